package jsretry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func apiError(code, errCode int, desc string) error {
	return fmt.Errorf("create stream: %w", &jetstream.APIError{Code: code, ErrorCode: jetstream.ErrorCode(errCode), Description: desc})
}

func TestClassification(t *testing.T) {
	tests := []struct {
		name                          string
		err                           error
		transient, ambiguous, forming bool
	}{
		{name: "nil", err: nil},
		{name: "attempt timed out", err: fmt.Errorf("read: %w", context.DeadlineExceeded), transient: true, ambiguous: true, forming: true},
		{name: "nats timeout", err: nats.ErrTimeout, transient: true, ambiguous: true, forming: true},
		{name: "reconnecting", err: nats.ErrConnectionReconnecting, transient: true, ambiguous: true, forming: true},
		{name: "no responders: a stream electing its leader", err: nats.ErrNoResponders, transient: true, forming: true},
		{name: "no stream response", err: jetstream.ErrNoStreamResponse, transient: true, forming: true},
		{name: "cluster not available", err: apiError(503, 10008, "JetStream system temporarily unavailable"), transient: true, forming: true},
		{name: "not leader", err: apiError(500, 10009, "JetStream cluster can not handle request"), transient: true, forming: true},
		{name: "another 503", err: apiError(503, 10999, "unavailable"), transient: true, forming: true},
		{name: "no peers yet", err: apiError(400, 10005, "no suitable peers for placement"), forming: true},
		{name: "jetstream not enabled", err: apiError(503, 10076, "JetStream not enabled"), forming: true},
		{name: "no servers", err: fmt.Errorf("connect: %w", nats.ErrNoServers), forming: true},
		{name: "cancelled", err: context.Canceled},
		{name: "revision conflict", err: jetstream.ErrKeyExists},
		{name: "wrong last sequence", err: apiError(400, 10071, "wrong last sequence: 4")},
		{name: "key not found", err: jetstream.ErrKeyNotFound},
		{name: "stream name in use", err: apiError(400, 10058, "stream name already in use with a different configuration")},
		{name: "replicas without a cluster", err: apiError(500, 10074, "replicas > 1 not supported in non-clustered mode")},
		{name: "authorization", err: nats.ErrAuthorization},
		{name: "closed connection", err: nats.ErrConnectionClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Transient(tt.err); got != tt.transient {
				t.Errorf("Transient = %v, want %v", got, tt.transient)
			}
			if got := Ambiguous(tt.err); got != tt.ambiguous {
				t.Errorf("Ambiguous = %v, want %v", got, tt.ambiguous)
			}
			if got := Forming(tt.err); got != tt.forming {
				t.Errorf("Forming = %v, want %v", got, tt.forming)
			}
		})
	}
}

// flaky fails with errs in turn, then succeeds; it records the deadline
// of each attempt's context.
type flaky struct {
	errs      []error
	calls     int
	deadlines []time.Duration
}

func (f *flaky) op(ctx context.Context) error {
	if d, ok := ctx.Deadline(); ok {
		f.deadlines = append(f.deadlines, time.Until(d))
	}
	f.calls++
	if f.calls <= len(f.errs) {
		return f.errs[f.calls-1]
	}
	return nil
}

func TestDo(t *testing.T) {
	conflict := jetstream.ErrKeyExists
	tests := []struct {
		name      string
		errs      []error
		policy    Policy
		attempts  int
		wantErr   error
		gaveUpMsg bool
	}{
		{name: "success at once", policy: Policy{For: time.Second}, attempts: 1},
		{name: "transient failures pass", errs: []error{nats.ErrNoResponders, nats.ErrTimeout}, policy: Policy{For: 5 * time.Second}, attempts: 3},
		{name: "a conflict is not retried", errs: []error{conflict}, policy: Policy{For: 5 * time.Second}, attempts: 1, wantErr: conflict},
		{name: "a conflict after a transient failure ends it", errs: []error{nats.ErrTimeout, conflict}, policy: Policy{For: 5 * time.Second}, attempts: 2, wantErr: conflict},
		{
			name: "the bound ends it", errs: []error{nats.ErrNoResponders, nats.ErrNoResponders, nats.ErrNoResponders, nats.ErrNoResponders},
			policy: Policy{For: 250 * time.Millisecond, FirstWait: 100 * time.Millisecond, MaxWait: 100 * time.Millisecond}, attempts: 3,
			wantErr: nats.ErrNoResponders, gaveUpMsg: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &flaky{errs: tt.errs}
			tt.policy.Retryable = Transient
			r, err := Do(context.Background(), tt.policy, f.op)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if r.Attempts != tt.attempts || f.calls != tt.attempts {
				t.Fatalf("%d attempts (%d calls), want %d", r.Attempts, f.calls, tt.attempts)
			}
			if tt.gaveUpMsg != (err != nil && strings.Contains(err.Error(), "gave up after")) {
				t.Fatalf("error %q: says it gave up: %v", err, !tt.gaveUpMsg)
			}
			if tt.attempts > 1 && r.First != tt.errs[0] {
				t.Fatalf("first error %v, want %v", r.First, tt.errs[0])
			}
		})
	}
}

func TestDoBoundsEachAttempt(t *testing.T) {
	f := &flaky{errs: []error{nats.ErrTimeout}}
	_, err := Do(context.Background(), Policy{For: time.Minute, Attempt: time.Second, Retryable: Transient}, f.op)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range f.deadlines {
		if d > time.Second {
			t.Fatalf("attempt %d had %v, more than its bound", i+1, d)
		}
	}
}

func TestDoStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err := Do(ctx, Policy{For: time.Minute, Retryable: Transient}, func(context.Context) error {
		calls++
		cancel()
		return nats.ErrNoResponders
	})
	if !errors.Is(err, nats.ErrNoResponders) || calls != 1 {
		t.Fatalf("after cancel: %v, %d calls", err, calls)
	}
}

func TestStartupRetriesAFormingCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f := &flaky{errs: []error{apiError(400, 10005, "no suitable peers for placement"), nats.ErrNoServers}}
	if err := Startup(ctx, nil, "bucket", f.op); err != nil || f.calls != 3 {
		t.Fatalf("%v after %d calls", err, f.calls)
	}
	// A refusal is final.
	f = &flaky{errs: []error{nats.ErrAuthorization}}
	if err := Startup(ctx, nil, "connect", f.op); !errors.Is(err, nats.ErrAuthorization) || f.calls != 1 {
		t.Fatalf("%v after %d calls", err, f.calls)
	}
}
