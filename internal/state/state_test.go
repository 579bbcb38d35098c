package state

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
)

func open(t *testing.T, ttl time.Duration) *Store {
	t.Helper()
	_, js := testsupport.StartNATS(t).Connect(t)
	s, err := Open(context.Background(), js, Options{Prefix: "test", LeaseTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	// Opening again is idempotent.
	if _, err := Open(context.Background(), js, Options{Prefix: "test", LeaseTTL: ttl}); err != nil {
		t.Fatalf("second open: %v", err)
	}
	return s
}

func TestNextExportTime(t *testing.T) {
	base := time.Date(2024, 5, 1, 10, 30, 15, 123456789, time.UTC)
	tests := []struct {
		name  string
		now   time.Time
		taken []time.Time
		want  time.Time
	}{
		{"nothing taken", base, nil, base.Truncate(time.Microsecond)},
		{"earlier minute taken", base, []time.Time{base.Add(-time.Minute)}, base.Truncate(time.Microsecond)},
		{"same minute taken", base, []time.Time{base.Add(-10 * time.Second)}, time.Date(2024, 5, 1, 10, 31, 0, 0, time.UTC)},
		{"future minute reserved", base, []time.Time{base.Add(3 * time.Minute)}, time.Date(2024, 5, 1, 10, 34, 0, 0, time.UTC)},
		{"zero ignored", base, []time.Time{{}}, base.Truncate(time.Microsecond)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NextExportTime(tt.now, tt.taken...); !got.Equal(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReserveNeverSharesAMinute(t *testing.T) {
	s := open(t, time.Minute)
	ctx := context.Background()
	now := time.Date(2024, 5, 1, 10, 30, 15, 0, time.UTC)
	// Concurrent reservations at the same instant all get distinct minutes.
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, _, err := s.Reserve(ctx, "d", now)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			m := got.Format("15:04")
			if seen[m] {
				t.Errorf("minute %s handed out twice", m)
			}
			seen[m] = true
		}()
	}
	wg.Wait()
	if len(seen) != 8 {
		t.Fatalf("got %d distinct minutes", len(seen))
	}
}

func TestRecordCommitNeverGoesBack(t *testing.T) {
	s := open(t, time.Minute)
	ctx := context.Background()
	t2 := time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC)
	ev2 := event.ModellingCompleted{AccountID: "a", RunID: "r2", CompletedAt: t2}
	if err := s.RecordCommit(ctx, "d", t2, ev2, sdk.Receipt{Location: "x", Body: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	ev1 := event.ModellingCompleted{AccountID: "a", RunID: "r1", CompletedAt: t2.Add(-time.Hour)}
	if err := s.RecordCommit(ctx, "d", t2.Add(-time.Hour), ev1, sdk.Receipt{}); err != nil {
		t.Fatal(err)
	}
	d, err := s.Destination(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	if d.LastRunID != "r2" || !d.LastTime.Equal(t2) || string(d.LastReceipt) != "{}" {
		t.Fatalf("state went back in time: %+v", d)
	}
}

func TestRunsAndCompletion(t *testing.T) {
	s := open(t, time.Minute)
	ctx := context.Background()
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	newer := event.ModellingCompleted{AccountID: "a", RunID: "r2", CompletedAt: at.Add(time.Minute)}
	older := event.ModellingCompleted{AccountID: "a", RunID: "r1", CompletedAt: at}
	if latest, err := s.RecordRun(ctx, newer); err != nil || latest.RunID != "r2" {
		t.Fatalf("%v %v", latest, err)
	}
	if latest, err := s.RecordRun(ctx, older); err != nil || latest.RunID != "r2" {
		t.Fatalf("older run became the latest: %v %v", latest, err)
	}
	if ev, ok, err := s.Run(ctx, "a", "r1"); err != nil || !ok || ev.RunID != "r1" {
		t.Fatalf("run r1: %v %v %v", ev, ok, err)
	}
	if _, ok, _ := s.Completed(ctx, "d", "r1"); ok {
		t.Fatal("completed before marked")
	}
	if err := s.MarkCompleted(ctx, "d", "r1", Completion{Time: at, Location: "s3://b/receipt.json"}); err != nil {
		t.Fatal(err)
	}
	if c, ok, err := s.Completed(ctx, "d", "r1"); err != nil || !ok || c.Location != "s3://b/receipt.json" {
		t.Fatalf("%v %v %v", c, ok, err)
	}
}

func TestLease(t *testing.T) {
	s := open(t, 2*time.Second)
	ctx := context.Background()
	l, err := s.Acquire(ctx, "d", LeaseHolder{Owner: "a", Job: "j1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Acquire(ctx, "d", LeaseHolder{Owner: "b", Job: "j2"}); !errors.Is(err, ErrLeased) {
		t.Fatalf("second acquire: %v", err)
	}
	// Kept alive, the lease outlives its TTL.
	kctx, cancel := context.WithCancel(ctx)
	go l.Keep(kctx, func(err error) { t.Errorf("lease lost: %v", err) })
	time.Sleep(3 * time.Second)
	if _, err := s.Acquire(ctx, "d", LeaseHolder{Owner: "b", Job: "j2"}); !errors.Is(err, ErrLeased) {
		t.Fatalf("acquire while kept: %v", err)
	}
	cancel()
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	l2, err := s.Acquire(ctx, "d", LeaseHolder{Owner: "b", Job: "j2"})
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	// Left alone, it expires and another job can take it; the old holder
	// then finds it lost.
	time.Sleep(3 * time.Second)
	l3, err := s.Acquire(ctx, "d", LeaseHolder{Owner: "c", Job: "j3"})
	if err != nil {
		t.Fatalf("acquire after expiry: %v", err)
	}
	if err := l2.Renew(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("renew of an expired lease: %v", err)
	}
	l3.Release(ctx)
}
