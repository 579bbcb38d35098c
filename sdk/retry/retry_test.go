package retry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/sdk"
)

func TestDelay(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Throttled: time.Second, Max: 800 * time.Millisecond}
	tests := []struct {
		name      string
		attempt   int
		throttled bool
		full      time.Duration
	}{
		{"first", 1, false, 100 * time.Millisecond},
		{"third", 3, false, 400 * time.Millisecond},
		{"capped", 10, false, 800 * time.Millisecond},
		{"throttled", 1, true, 800 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 50 {
				d := p.Delay(tt.attempt, tt.throttled)
				if d < tt.full/2 || d > tt.full {
					t.Fatalf("delay %v outside [%v, %v]", d, tt.full/2, tt.full)
				}
			}
		})
	}
	if d := (Policy{}).Delay(3, false); d != 0 {
		t.Fatalf("zero policy waits %v", d)
	}
}

func TestAttemptTimeout(t *testing.T) {
	p := Policy{AttemptFloor: time.Minute, MinThroughput: 1 << 20}
	if got := p.AttemptTimeout(10 << 20); got != time.Minute+10*time.Second {
		t.Fatalf("timeout %v", got)
	}
	if got := (Policy{}).AttemptTimeout(1 << 30); got != 0 {
		t.Fatalf("no floor: %v", got)
	}
}

func TestDo(t *testing.T) {
	fast := Policy{Attempts: 4, Base: time.Millisecond, Max: 2 * time.Millisecond}
	tests := []struct {
		name     string
		fails    []error // by attempt; past the end: success
		attempts int
		err      string
	}{
		{"first time", nil, 1, ""},
		{"retryable then fine", []error{sdk.Retryable(errors.New("503"))}, 2, ""},
		{"unclassified counts as retryable", []error{errors.New("reset"), errors.New("reset")}, 3, ""},
		{"permanent stops", []error{sdk.Permanent(errors.New("404"))}, 1, "404"},
		{"attempts spent", []error{errors.New("a"), errors.New("b"), errors.New("c"), errors.New("d"), errors.New("e")}, 4, "after 4 attempts: d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var retries int
			p := fast
			p.OnRetry = func(int, time.Duration, error) { retries++ }
			n := 0
			err := p.Do(context.Background(), 0, func(_ context.Context, attempt int) error {
				n++
				if attempt != n {
					t.Fatalf("attempt %d told %d", n, attempt)
				}
				if attempt <= len(tt.fails) {
					return tt.fails[attempt-1]
				}
				return nil
			})
			if n != tt.attempts || retries != n-1 {
				t.Fatalf("%d attempts, %d retries; want %d attempts", n, retries, tt.attempts)
			}
			if (tt.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
		})
	}
}

// TestDoAbandonsAStalledAttempt: an attempt that outlives its deadline is
// cut short and retried; the caller's own cancellation is not retried.
func TestDoAbandonsAStalledAttempt(t *testing.T) {
	p := Policy{Attempts: 3, Base: time.Millisecond, AttemptFloor: 20 * time.Millisecond}
	n := 0
	err := p.Do(context.Background(), 0, func(ctx context.Context, attempt int) error {
		n++
		if attempt == 1 {
			<-ctx.Done() // stalls until abandoned
			return ctx.Err()
		}
		return nil
	})
	if err != nil || n != 2 {
		t.Fatalf("%d attempts, %v", n, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	err = p.Do(ctx, 0, func(ctx context.Context, _ int) error {
		n++
		cancel()
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Fatalf("cancelled: %d attempts, %v", n, err)
	}
}
