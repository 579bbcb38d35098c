package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestRetryBound(t *testing.T) {
	tests := []struct {
		name              string
		leaseTTL, ackWait time.Duration
		want              time.Duration
	}{
		{name: "defaults", leaseTTL: time.Minute, ackWait: 2 * time.Minute, want: 30 * time.Second},
		{name: "a short ack wait", leaseTTL: time.Minute, ackWait: 20 * time.Second, want: 10 * time.Second},
		{name: "a short lease", leaseTTL: 10 * time.Second, ackWait: 2 * time.Minute, want: 5 * time.Second},
		{name: "nothing known", want: 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RetryBound(tt.leaseTTL, tt.ackWait); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestStateRidesOutLeaderElections writes and reads the shared state from
// several goroutines on a three-node cluster with three replicas of every
// bucket, while the node leading the completed bucket is killed and
// restarted: no operation fails. Then two nodes are killed, so that no
// bucket has a leader for longer than an attempt: a write waits for a node
// to come back instead of failing.
func TestStateRidesOutLeaderElections(t *testing.T) {
	c := testsupport.StartNATSCluster(t, testsupport.NATSClusterOptions{})
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Open(ctx, js, Options{Prefix: "test", Replicas: 3, LeaseTTL: 40 * time.Second, RetryFor: 20 * time.Second, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}

	// A leader killed under load.
	var ops atomic.Int64
	stop := make(chan struct{})
	errs := make(chan error, 100)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := someWrites(ctx, s, fmt.Sprintf("d%d", g), i); err != nil {
					errs <- err
					return
				}
				ops.Add(1)
			}
		}()
	}
	waitOps := func(n int64) {
		for ops.Load() < n {
			select {
			case err := <-errs:
				t.Fatal(err)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	waitOps(20)
	leader, _, err := c.WaitNewLeader(ctx, "KV_test_completed", -1)
	if err != nil {
		t.Fatal(err)
	}
	c.Kill(leader)
	_, took, err := c.WaitNewLeader(ctx, "KV_test_completed", leader)
	if err != nil {
		t.Fatal(err)
	}
	waitOps(ops.Load() + 20)
	c.Restart(leader)
	waitOps(ops.Load() + 20)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r := s.Retries()
	t.Logf("%d rounds of writes; leader %s killed, a new leader seen after %v; %d operations retried, %d lost answers recovered",
		ops.Load(), c.Nodes[leader].Name, took.Round(time.Millisecond), r.Retried, r.Recovered)

	// No quorum for five seconds.
	c.WaitJetStream(ctx)
	a, b := leader, (leader+1)%3
	c.Kill(a)
	c.Kill(b)
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		if err := s.MarkCompleted(ctx, "d", "during-the-outage", Completion{Time: start}); err != nil {
			done <- err
			return
		}
		_, ok, err := s.Completed(ctx, "d", "during-the-outage")
		if err == nil && !ok {
			err = errors.New("the write is not there")
		}
		done <- err
	}()
	time.Sleep(5 * time.Second)
	c.Restart(a)
	if err := <-done; err != nil {
		t.Fatalf("a write during the outage: %v", err)
	}
	t.Logf("a write during a 5 s outage done after %v", time.Since(start).Round(time.Millisecond))
	if after := s.Retries(); after.Retried == r.Retried || after.GaveUp != 0 {
		t.Fatalf("retries before the outage %+v, after %+v", r, after)
	}
	c.Restart(b)
}

// someWrites is one round of what an export writes and reads.
func someWrites(ctx context.Context, s *Store, dest string, i int) error {
	run := fmt.Sprintf("r%d", i)
	now := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	if _, err := s.RecordRun(ctx, event.ModellingCompleted{AccountID: dest, RunID: run, CompletedAt: now}, now); err != nil {
		return err
	}
	l, err := s.Acquire(ctx, dest, LeaseHolder{Owner: "test", Job: run, Since: now})
	if err != nil {
		return err
	}
	if _, v, err := s.StartAttempt(ctx, dest, run, 3, now); err != nil || v != Start {
		return fmt.Errorf("start attempt: %v %v", v, err)
	}
	if _, _, err := s.Reserve(ctx, dest, now); err != nil {
		return err
	}
	if err := l.Renew(ctx); err != nil {
		return err
	}
	if err := s.RecordCommit(ctx, dest, commitOf(run, now, now, "{}")); err != nil {
		return err
	}
	if err := s.MarkCompleted(ctx, dest, run, Completion{Time: now}); err != nil {
		return err
	}
	if _, ok, err := s.Completed(ctx, dest, run); err != nil || !ok {
		return fmt.Errorf("completed: %v %v", ok, err)
	}
	return l.Release(ctx)
}

// lossyKV is a real bucket whose next writes take effect but whose
// answers are lost, as when a leader dies after committing a write and
// before answering it.
type lossyKV struct {
	jetstream.KeyValue
	lose atomic.Int32
}

func (b *lossyKV) lost(err error) error {
	if err == nil && b.lose.Add(-1) >= 0 {
		return nats.ErrTimeout
	}
	return err
}

func (b *lossyKV) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	rev, err := b.KeyValue.Create(ctx, key, value, opts...)
	return rev, b.lost(err)
}

func (b *lossyKV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	rev, err := b.KeyValue.Update(ctx, key, value, rev)
	return rev, b.lost(err)
}

func (b *lossyKV) Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	return b.lost(b.KeyValue.Delete(ctx, key, opts...))
}

// TestLostAnswers: a write whose answer was lost is retried, meets a
// conflict with itself, and is recognised as done: a lease acquired so is
// held, not reported as held by another job; a renewal so keeps it; a
// release so gives it back; a reservation so is the caller's.
func TestLostAnswers(t *testing.T) {
	s := open(t, time.Minute)
	ctx := context.Background()
	leases := &lossyKV{KeyValue: s.leases.(retryingKV).KeyValue}
	s.leases = retryingKV{KeyValue: leases, r: s.retry, read: s.leases.(retryingKV).read}
	dests := &lossyKV{KeyValue: s.destinations.(retryingKV).KeyValue}
	s.destinations = retryingKV{KeyValue: dests, r: s.retry, read: s.destinations.(retryingKV).read}

	leases.lose.Store(1)
	l, err := s.Acquire(ctx, "d", LeaseHolder{Owner: "a", Job: "j1", Since: time.Now()})
	if err != nil {
		t.Fatalf("acquire whose answer was lost: %v", err)
	}
	leases.lose.Store(1)
	if err := l.Renew(ctx); err != nil {
		t.Fatalf("renewal whose answer was lost: %v", err)
	}
	if err := l.Renew(ctx); err != nil {
		t.Fatalf("renewal after it: %v", err)
	}
	leases.lose.Store(1)
	if err := l.Release(ctx); err != nil {
		t.Fatalf("release whose answer was lost: %v", err)
	}
	if _, err := s.Acquire(ctx, "d", LeaseHolder{Owner: "b", Job: "j2", Since: time.Now()}); err != nil {
		t.Fatalf("the lease was not given back: %v", err)
	}

	now := time.Date(2024, 5, 1, 10, 30, 15, 0, time.UTC)
	if _, _, err := s.Reserve(ctx, "d", now); err != nil {
		t.Fatal(err)
	}
	dests.lose.Store(1)
	next := now.Add(time.Minute)
	if at, _, err := s.Reserve(ctx, "d", next); err != nil || !at.Equal(next) {
		t.Fatalf("reservation whose answer was lost: %v %v", at, err)
	}
	if got := s.Retries().Recovered; got != 4 {
		t.Fatalf("%d lost answers recovered, want 4", got)
	}
	// Another job's write is still a conflict.
	if _, err := s.Acquire(ctx, "d", LeaseHolder{Owner: "c", Job: "j3", Since: time.Now()}); !errors.Is(err, ErrLeased) {
		t.Fatalf("acquire of a held lease: %v", err)
	}
}

// testLogger logs through t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestLeaderReaderAPIPrefix(t *testing.T) {
	nc, _ := testsupport.StartNATS(t).Connect(t)
	plain, _ := jetstream.New(nc)
	domain, _ := jetstream.NewWithDomain(nc, "hub")
	prefix, _ := jetstream.NewWithAPIPrefix(nc, "$JS.acme.API")
	tests := []struct {
		name string
		js   jetstream.JetStream
		want string
	}{
		{name: "default", js: plain, want: "$JS.API."},
		{name: "domain", js: domain, want: "$JS.hub.API."},
		{name: "prefix", js: prefix, want: "$JS.acme.API."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newLeaderReader(tt.js).api; got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
