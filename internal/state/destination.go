package state

import (
	"context"
	"fmt"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/sdk"
)

// Destination is what the daemon remembers about one destination.
type Destination struct {
	// LastTime is the export time of the last committed dump.
	LastTime           time.Time `json:"last_time"`
	LastRunID          string    `json:"last_run_id,omitempty"`
	LastRunCompletedAt time.Time `json:"last_run_completed_at"`
	LastLocation       string    `json:"last_location,omitempty"`
	LastReceipt        []byte    `json:"last_receipt,omitempty"`
	// ReservedTime is the latest export time ever handed out, committed or
	// not: a crashed attempt may have written files in its minute folder.
	ReservedTime time.Time `json:"reserved_time"`
}

// Destination returns what is known about a destination; the zero value
// when nothing is.
func (s *Store) Destination(ctx context.Context, name string) (Destination, error) {
	var d Destination
	_, _, err := get(ctx, s.destinations, name, &d)
	return d, err
}

// Reserve picks the export time of a new dump of a destination: now, or
// the start of the minute after the latest time reserved or committed,
// whichever is later. It records the time before any file is written, so
// that no two dumps, even one that crashed half-way, share a minute folder.
// It returns the time and the state before the reservation.
func (s *Store) Reserve(ctx context.Context, name string, now time.Time) (time.Time, Destination, error) {
	var prev Destination
	var t time.Time
	_, err := update(ctx, s.destinations, name, func(d *Destination, _ bool) (bool, error) {
		prev = *d
		t = NextExportTime(now, d.ReservedTime, d.LastTime)
		d.ReservedTime = t
		return true, nil
	})
	if err != nil {
		return time.Time{}, Destination{}, fmt.Errorf("reserve an export time for %s: %w", name, err)
	}
	return t, prev, nil
}

// NextExportTime is now (UTC, microseconds), moved to the start of the
// next free minute if the minute is already taken by a reserved or
// committed dump.
func NextExportTime(now time.Time, taken ...time.Time) time.Time {
	t := now.UTC().Truncate(time.Microsecond)
	for _, u := range taken {
		if u.IsZero() {
			continue
		}
		if next := u.UTC().Truncate(time.Minute).Add(time.Minute); t.Before(next) {
			t = next
		}
	}
	return t
}

// RecordCommit remembers a committed dump. A dump of an older run than the
// one already recorded does not replace it.
func (s *Store) RecordCommit(ctx context.Context, name string, t time.Time, ev event.ModellingCompleted, rc sdk.Receipt) error {
	_, err := update(ctx, s.destinations, name, func(d *Destination, _ bool) (bool, error) {
		if !d.LastTime.IsZero() && !t.After(d.LastTime) {
			return false, nil
		}
		d.LastTime = t
		d.LastRunID = ev.RunID
		d.LastRunCompletedAt = ev.CompletedAt
		d.LastLocation = rc.Location
		d.LastReceipt = rc.Body
		if d.ReservedTime.Before(t) {
			d.ReservedTime = t
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("record the dump of %s: %w", name, err)
	}
	return nil
}

// Completion records that a run was delivered to a destination.
type Completion struct {
	Time     time.Time `json:"time"`
	Location string    `json:"location,omitempty"`
	// Skipped says why nothing was exported (superseded), if so.
	Skipped string `json:"skipped,omitempty"`
	// Failed holds the error of an export given up for good.
	Failed string `json:"failed,omitempty"`
}

func completedKey(dest, runID string) string { return dest + "." + runID }

// Completed returns the completion of (destination, run), if any.
func (s *Store) Completed(ctx context.Context, dest, runID string) (Completion, bool, error) {
	var c Completion
	_, ok, err := get(ctx, s.completed, completedKey(dest, runID), &c)
	return c, ok, err
}

// MarkCompleted records the completion of (destination, run).
func (s *Store) MarkCompleted(ctx context.Context, dest, runID string, c Completion) error {
	_, err := update(ctx, s.completed, completedKey(dest, runID), func(v *Completion, _ bool) (bool, error) {
		*v = c
		return true, nil
	})
	return err
}
