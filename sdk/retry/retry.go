// Package retry is what a destination plugin that talks to a store's API
// itself needs to retry well: exponential backoff with jitter, a longer
// first wait after throttling, and a deadline per attempt that grows with
// the size of what the attempt sends, so that a stalled connection is
// abandoned and retried rather than waited on for ever.
//
// Plugins whose cloud SDK retries by itself can still take their delays
// ([Policy.Delay]) and attempt deadlines ([Policy.AttemptTimeout]) from
// here; plugins that retry by hand call [Policy.Do].
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/exportd/exportd/sdk"
)

// Policy says how an operation is retried. The zero value tries once.
type Policy struct {
	// Attempts is how many times an operation is tried, the first
	// included. Less than 1 means 1.
	Attempts int

	// Base is the wait after the first failed attempt; each later wait
	// doubles, up to Max. Throttled replaces Base when the store asked
	// the caller to slow down. Every wait is drawn between half and all of
	// its value (jitter), so that many callers do not retry in step.
	Base, Throttled, Max time.Duration

	// AttemptFloor and MinThroughput bound one attempt: it is abandoned
	// after AttemptFloor plus the time its body takes at MinThroughput
	// bytes per second. A zero AttemptFloor sets no bound.
	AttemptFloor  time.Duration
	MinThroughput int64

	// IsThrottle reports whether an attempt's error asks the caller to
	// slow down (HTTP 429, S3's SlowDown). Nil: none does.
	IsThrottle func(error) bool

	// OnRetry, when set, is told about each retry before its wait: to log
	// it, say.
	OnRetry func(attempt int, wait time.Duration, err error)
}

// Delay is how long to wait after attempt (1 for the first) failed:
// between half and all of the base delay doubled attempt-1 times, capped
// at Max.
func (p Policy) Delay(attempt int, throttled bool) time.Duration {
	d := p.Base
	if throttled && p.Throttled > 0 {
		d = p.Throttled
	}
	for i := 1; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	if p.Max > 0 {
		d = min(d, p.Max)
	}
	if d <= 1 {
		return max(d, 0)
	}
	return d/2 + rand.N(d/2)
}

// AttemptTimeout is the deadline of one attempt that sends size bytes, or
// 0 for none.
func (p Policy) AttemptTimeout(size int64) time.Duration {
	if p.AttemptFloor <= 0 {
		return 0
	}
	limit := p.AttemptFloor
	if p.MinThroughput > 0 && size > 0 {
		limit += time.Duration(size/p.MinThroughput) * time.Second
	}
	return limit
}

// ErrNoAnswer marks an attempt abandoned at its deadline (see
// [Policy.AttemptTimeout]). Such an attempt is retried.
var ErrNoAnswer = errors.New("no complete answer in time")

// Do runs op until it succeeds, fails with an error that is not
// retryable (see sdk.KindOf; an unclassified error counts as retryable),
// the attempts are spent or ctx is done. Each attempt runs under a context
// bounded by AttemptTimeout(size); an attempt cut short by that deadline
// fails with ErrNoAnswer and is retried. op learns which attempt it is (1
// for the first): a create-only upload may then take "already exists" for
// the success of an earlier attempt whose answer was lost.
//
// Do returns nil, or the last attempt's error, wrapped to say how many
// attempts were made when there was more than one.
func (p Policy) Do(ctx context.Context, size int64, op func(ctx context.Context, attempt int) error) error {
	for attempt := 1; ; attempt++ {
		err := p.once(ctx, size, attempt, op)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		if !sdk.IsRetryable(err) || attempt >= max(p.Attempts, 1) {
			if attempt > 1 {
				return fmt.Errorf("after %d attempts: %w", attempt, err)
			}
			return err
		}
		wait := p.Delay(attempt, p.IsThrottle != nil && p.IsThrottle(err))
		if p.OnRetry != nil {
			p.OnRetry(attempt, wait, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (waiting to retry after: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// once runs one attempt under its deadline.
func (p Policy) once(ctx context.Context, size int64, attempt int, op func(context.Context, int) error) error {
	limit := p.AttemptTimeout(size)
	if limit == 0 {
		return op(ctx, attempt)
	}
	actx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	err := op(actx, attempt)
	if err != nil && ctx.Err() == nil && actx.Err() != nil {
		return sdk.Retryable(fmt.Errorf("%w within %v: %v", ErrNoAnswer, limit, err))
	}
	return err
}
