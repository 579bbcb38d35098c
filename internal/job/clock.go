package job

import (
	"context"
	"log/slog"
	"time"
)

// Clock tells the time and waits. The engine waits for a destination's
// next free minute; tests inject a clock that does not.
type Clock interface {
	Now() time.Time
	// Sleep waits for d, or until ctx is done, and then returns ctx's
	// error.
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock is the real clock.
type SystemClock struct{}

var _ Clock = SystemClock{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Sleep waits for d unless ctx is done first.
func (SystemClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitUntil waits until the clock reads free or later and returns the time
// then, to the microsecond. An export time taken this way is never later
// than the moment the dump starts, and never in a minute that is not free:
// when the next free minute has not begun, the export waits for it rather
// than naming the dump after a time that has not come. The wait is at most
// a minute unless an older daemon or a clock ahead of this one reserved
// times in the future. JetStream keeps getting progress heartbeats from
// the consumer meanwhile, and the leases are kept.
func waitUntil(ctx context.Context, c Clock, free time.Time, log *slog.Logger) (time.Time, error) {
	logged := false
	for {
		now := c.Now()
		if !now.Before(free) {
			return now.UTC().Truncate(time.Microsecond), nil
		}
		if !logged {
			log.Info("waiting for the next free minute", "until", free.UTC().Format(time.RFC3339), "wait", free.Sub(now).Round(time.Millisecond))
			logged = true
		}
		if err := c.Sleep(ctx, free.Sub(now)); err != nil {
			return time.Time{}, err
		}
	}
}
