package state

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/testsupport"
)

// TestLeaseSurvivesANATSRestart: NATS goes away for less than the lease's
// TTL while the lease is kept. Renewals fail meanwhile, but the lease is
// not given up: it is still ours when NATS is back, and nobody else can
// take it.
func TestLeaseSurvivesANATSRestart(t *testing.T) {
	n := testsupport.StartNATS(t)
	_, js := n.Connect(t)
	ctx := context.Background()
	const ttl = 10 * time.Second
	s, err := Open(ctx, js, Options{Prefix: "test", LeaseTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Acquire(ctx, "d", LeaseHolder{Owner: "a", Job: "j1"})
	if err != nil {
		t.Fatal(err)
	}
	var lost atomic.Value
	kctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go l.Keep(kctx, func(err error) { lost.Store(err) })

	time.Sleep(ttl/3 + time.Second) // just after a renewal
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		n.Restart(t, 3*time.Second)
	}()
	// A renewal while NATS is away fails, but does not lose the lease.
	time.Sleep(500 * time.Millisecond)
	rctx, rcancel := context.WithTimeout(ctx, time.Second)
	err = l.Renew(rctx)
	rcancel()
	if err == nil || errors.Is(err, ErrLeaseLost) {
		kept, _ := lost.Load().(error)
		t.Fatalf("renew while NATS is away: %v, want an error that is not a lost lease (keeper: %v)", err, kept)
	}
	<-restarted
	time.Sleep(ttl / 2)
	if err, _ := lost.Load().(error); err != nil {
		t.Fatalf("the lease was given up after a short NATS restart: %v", err)
	}
	if err := l.Hold(ctx); err != nil {
		t.Fatalf("renew after the restart: %v", err)
	}
	if _, err := s.Acquire(ctx, "d", LeaseHolder{Owner: "b", Job: "j2"}); !errors.Is(err, ErrLeased) {
		t.Fatalf("another job could take the lease: %v", err)
	}
}

// TestRenewSaysWhatIsLost: only a vanished or rewritten lease is lost.
func TestRenewSaysWhatIsLost(t *testing.T) {
	s := open(t, 5*time.Second)
	ctx := context.Background()
	l, err := s.Acquire(ctx, "d", LeaseHolder{Owner: "a", Job: "j1"})
	if err != nil {
		t.Fatal(err)
	}
	// A renewal that cannot reach NATS in time is not a lost lease.
	dead, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	<-dead.Done()
	if err := l.Renew(dead); err == nil || errors.Is(err, ErrLeaseLost) {
		t.Fatalf("renew with an expired context: %v", err)
	}
	if err := l.Renew(ctx); err != nil {
		t.Fatalf("renew: %v", err)
	}
	// Deleted behind its back, it is lost.
	if err := s.leases.Delete(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if err := l.Renew(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("renew of a deleted lease: %v", err)
	}
	// Taken over by another job, it is lost.
	l2, err := s.Acquire(ctx, "e", LeaseHolder{Owner: "a", Job: "j1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.leases.Put(ctx, "e", []byte(`{"owner":"b","job":"j2"}`)); err != nil {
		t.Fatal(err)
	}
	if err := l2.Hold(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("hold of a lease taken by another job: %v", err)
	}
}
