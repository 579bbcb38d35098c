package job

import (
	"context"
	"time"
)

// persistFor bounds how long bookkeeping in the shared state is retried
// when NATS is unreachable for a while.
const persistFor = 30 * time.Second

// persist runs a write to the shared state, retrying failures (NATS
// reconnecting, a JetStream leader election) with a growing pause for up
// to persistFor, even when ctx is cancelled: what it records has already
// happened at the destination. It returns the last error.
func persist(ctx context.Context, write func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), persistFor)
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		err := write(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}
