package state

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/testsupport"
)

// TestWritesFromAnOutdatedRecord: two replicas share the buckets. Each
// writes a destination's record starting from the record as it last saw
// it; when the other replica changed it meanwhile, the write is made on
// the record as it is, and no decision is taken on the outdated one.
func TestWritesFromAnOutdatedRecord(t *testing.T) {
	_, js := testsupport.StartNATS(t).Connect(t)
	ctx := context.Background()
	a, err := Open(ctx, js, Options{Prefix: "test", LeaseTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, js, Options{Prefix: "test", LeaseTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Date(2024, 5, 1, 10, 30, 15, 0, time.UTC)
	if _, _, err := a.Reserve(ctx, "d", t1); err != nil {
		t.Fatal(err)
	}
	// b reserves the next minute behind a's back.
	t2 := t1.Add(time.Minute)
	if _, _, err := b.Reserve(ctx, "d", t2); err != nil {
		t.Fatal(err)
	}
	// a's outdated record says t2's minute is free: it is not.
	if _, _, err := a.Reserve(ctx, "d", t2.Add(time.Second)); !errors.Is(err, ErrMinuteTaken) {
		t.Fatalf("a reservation in a minute another replica took: %v", err)
	}
	// a's intent is written onto b's reservation, which it keeps.
	if _, _, err := b.Reserve(ctx, "d", t2.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	in := CommitIntent{Completion: "r1", Run: event.ModellingCompleted{AccountID: "x", RunID: "r1", CompletedAt: t1}, Time: t1}
	if err := a.RecordIntent(ctx, "d", in); err != nil {
		t.Fatal(err)
	}
	d, err := b.Destination(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	if !d.ReservedTime.Equal(t2.Add(2*time.Minute)) || d.Intent == nil || d.Intent.Completion != "r1" {
		t.Fatalf("the record lost a write: %+v", d)
	}
	// A record deleted behind a's back is written anew.
	if err := js.DeleteKeyValue(ctx, "test_destinations"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, js, Options{Prefix: "test", LeaseTTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Reserve(ctx, "d", t2.Add(10*time.Minute)); err != nil {
		t.Fatalf("reserve after the record vanished: %v", err)
	}
}

// TestLeaseRenewedByALateWrite: a renewal whose answer was lost but which
// took effect leaves the lease with its holder, at a revision the holder
// has not seen; the next renewal finds it still its own.
func TestLeaseRenewedByALateWrite(t *testing.T) {
	s := open(t, time.Minute)
	ctx := context.Background()
	l, err := s.Acquire(ctx, "d", LeaseHolder{Owner: "a", Job: "j1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.leases.Update(ctx, "d", l.value, l.rev); err != nil {
		t.Fatal(err)
	}
	if err := l.Hold(ctx); err != nil {
		t.Fatalf("hold after a late renewal: %v", err)
	}
	if _, err := s.Acquire(ctx, "d", LeaseHolder{Owner: "b", Job: "j2"}); !errors.Is(err, ErrLeased) {
		t.Fatalf("another job took the lease: %v", err)
	}
}
