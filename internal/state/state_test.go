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

func TestFreeAt(t *testing.T) {
	base := time.Date(2024, 5, 1, 10, 30, 15, 123456789, time.UTC)
	next := time.Date(2024, 5, 1, 10, 31, 0, 0, time.UTC)
	tests := []struct {
		name string
		d    Destination
		want time.Time
	}{
		{"nothing known", Destination{}, time.Time{}},
		{"reserved", Destination{ReservedTime: base}, next},
		{"committed", Destination{LastTime: base}, next},
		{"the later of both", Destination{ReservedTime: base.Add(-time.Hour), LastTime: base}, next},
		{"a reservation ahead of the clock", Destination{ReservedTime: base.Add(3 * time.Minute)}, next.Add(3 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.FreeAt(); !got.Equal(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReserveNeverSharesAMinute(t *testing.T) {
	s := open(t, time.Minute)
	ctx := context.Background()
	now := time.Date(2024, 5, 1, 10, 30, 15, 0, time.UTC)
	// Of concurrent reservations at the same instant, one gets the minute.
	var mu sync.Mutex
	var got []time.Time
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at, _, err := s.Reserve(ctx, "d", now)
			if errors.Is(err, ErrMinuteTaken) {
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got = append(got, at)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(got) != 1 || !got[0].Equal(now) {
		t.Fatalf("reservations %v, want exactly one at %v", got, now)
	}
	// The minute stays taken; the next one is free from its first instant.
	if _, _, err := s.Reserve(ctx, "d", now.Add(44*time.Second)); !errors.Is(err, ErrMinuteTaken) {
		t.Fatalf("a second reservation in the minute: %v", err)
	}
	next := time.Date(2024, 5, 1, 10, 31, 0, 0, time.UTC)
	at, prev, err := s.Reserve(ctx, "d", next)
	if err != nil || !at.Equal(next) || !prev.ReservedTime.Equal(now) {
		t.Fatalf("reservation at the next minute: %v %+v %v", at, prev, err)
	}
}

func commitOf(run string, completedAt, at time.Time, body string) Commit {
	return Commit{
		CommitIntent: CommitIntent{
			Completion: run,
			Run:        event.ModellingCompleted{AccountID: "a", RunID: run, CompletedAt: completedAt},
			Time:       at,
			Manifest:   []ManifestTable{{Name: "t", Files: 1}},
		},
		Receipt: sdk.Receipt{Location: "x", Body: []byte(body)},
	}
}

func TestRecordCommitNeverGoesBack(t *testing.T) {
	s := open(t, time.Minute)
	ctx := context.Background()
	t2 := time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC)
	if err := s.RecordCommit(ctx, "d", commitOf("r2", t2, t2, "{}")); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordCommit(ctx, "d", commitOf("r1", t2.Add(-time.Hour), t2.Add(-time.Hour), "old")); err != nil {
		t.Fatal(err)
	}
	d, err := s.Destination(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	if d.LastRunID != "r2" || !d.LastTime.Equal(t2) || string(d.LastReceipt) != "{}" || d.LastCompletion != "r2" {
		t.Fatalf("state went back in time: %+v", d)
	}
}

func TestCommitIntent(t *testing.T) {
	s := open(t, time.Minute)
	ctx := context.Background()
	t1 := time.Date(2024, 5, 1, 11, 0, 5, 0, time.UTC)
	t2 := t1.Add(2 * time.Minute)
	full := commitOf("r1", t1, t1, "{1}")
	full.Manifest = []ManifestTable{{Name: "a", Files: 2, Rows: 10}, {Name: "b", Files: 1}}
	if err := s.RecordIntent(ctx, "d", full.CommitIntent); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Destination(ctx, "d"); d.Intent == nil || !d.Intent.Time.Equal(t1) || len(d.Intent.Manifest) != 2 {
		t.Fatalf("intent not recorded: %+v", d)
	}
	if err := s.RecordCommit(ctx, "d", full); err != nil {
		t.Fatal(err)
	}
	d, _ := s.Destination(ctx, "d")
	if d.Intent != nil || len(d.Tables) != 2 || !d.Tables["a"].Time.Equal(t1) || d.Tables["a"].Files != 2 {
		t.Fatalf("after the commit: %+v", d)
	}
	// A re-export of table a carries b over from the first dump.
	part := commitOf("job-2", t1, t2, "{2}")
	part.Manifest = []ManifestTable{{Name: "a", Files: 3}, {Name: "b", Files: 1, Carried: t1}}
	if err := s.RecordIntent(ctx, "d", part.CommitIntent); err != nil {
		t.Fatal(err)
	}
	// A failed commit clears only its own intent.
	if err := s.ClearIntent(ctx, "d", t1); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Destination(ctx, "d"); d.Intent == nil {
		t.Fatal("another dump's intent was cleared")
	}
	if err := s.RecordCommit(ctx, "d", part); err != nil {
		t.Fatal(err)
	}
	d, _ = s.Destination(ctx, "d")
	if d.Intent != nil || !d.Tables["a"].Time.Equal(t2) || d.Tables["a"].Files != 3 || !d.Tables["b"].Time.Equal(t1) || d.Tables["b"].RunID != "r1" {
		t.Fatalf("after the re-export: %+v", d.Tables)
	}
	if err := s.RecordIntent(ctx, "d", commitOf("r3", t2, t2.Add(time.Minute), "").CommitIntent); err != nil {
		t.Fatal(err)
	}
	if err := s.ClearIntent(ctx, "d", t2.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Destination(ctx, "d"); d.Intent != nil {
		t.Fatal("intent not cleared")
	}
}

func TestAttempts(t *testing.T) {
	s := open(t, time.Minute)
	ctx := context.Background()
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for i := 1; i <= 2; i++ {
		a, v, err := s.StartAttempt(ctx, "d", "r1", 2, now)
		if err != nil || v != Start || a.Started != i {
			t.Fatalf("attempt %d: %+v %v %v", i, a, v, err)
		}
	}
	// An interrupted attempt is taken back.
	if err := s.UndoAttempt(ctx, "d", "r1"); err != nil {
		t.Fatal(err)
	}
	if a, v, err := s.StartAttempt(ctx, "d", "r1", 3, now); err != nil || v != Start || a.Started != 2 {
		t.Fatalf("after an interruption: %+v %v %v", a, v, err)
	}
	// The backoff after a failure holds the next attempt back.
	if err := s.FailAttempt(ctx, "d", "r1", "boom", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if a, v, err := s.StartAttempt(ctx, "d", "r1", 3, now.Add(30*time.Second)); err != nil || v != TooSoon || a.Started != 2 {
		t.Fatalf("during the backoff: %+v %v %v", a, v, err)
	}
	if a, v, err := s.StartAttempt(ctx, "d", "r1", 3, now.Add(time.Minute)); err != nil || v != Start || a.Started != 3 {
		t.Fatalf("after the backoff: %+v %v %v", a, v, err)
	}
	a, v, err := s.StartAttempt(ctx, "d", "r1", 3, now.Add(time.Hour))
	if err != nil || v != Exhausted || a.Started != 3 || a.LastError != "boom" {
		t.Fatalf("a fourth attempt of three: %+v %v %v", a, v, err)
	}
	// Other pairs count on their own.
	if a, v, _ := s.StartAttempt(ctx, "d", "r2", 2, now); v != Start || a.Started != 1 {
		t.Fatalf("another run: %+v", a)
	}
}

func TestQueueReexport(t *testing.T) {
	s := open(t, time.Minute)
	ctx := context.Background()
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	limit := RateLimit{Jobs: 2, Window: time.Hour}
	any := func(PendingReexport) bool { return true }
	none := func(PendingReexport) bool { return false }
	job := func(id string, at time.Time) PendingReexport {
		return PendingReexport{JobID: id, RunID: "r", Destinations: []string{"d"}, RequestedAt: at}
	}
	if p, joined, err := s.QueueReexport(ctx, "a", job("j1", now), any, limit, now); err != nil || joined || p.JobID != "j1" {
		t.Fatalf("first: %+v %v %v", p, joined, err)
	}
	// Not queued yet but fresh: joinable.
	if p, joined, err := s.QueueReexport(ctx, "a", job("j2", now), any, limit, now.Add(time.Second)); err != nil || !joined || p.JobID != "j1" {
		t.Fatalf("join: %+v %v %v", p, joined, err)
	}
	if err := s.MarkReexportQueued(ctx, "a", "j1"); err != nil {
		t.Fatal(err)
	}
	if p, joined, err := s.QueueReexport(ctx, "a", job("j3", now), none, limit, now.Add(2*time.Second)); err != nil || joined || p.JobID != "j3" {
		t.Fatalf("another job: %+v %v %v", p, joined, err)
	}
	if _, _, err := s.QueueReexport(ctx, "a", job("j4", now), none, limit, now.Add(3*time.Second)); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("third job in the window: %v", err)
	}
	// Joining still works at the limit; started jobs cannot be joined.
	if p, joined, err := s.QueueReexport(ctx, "a", job("j5", now), any, limit, now.Add(4*time.Second)); err != nil || !joined || p.JobID != "j1" {
		t.Fatalf("join at the limit: %+v %v %v", p, joined, err)
	}
	if err := s.ReexportStarted(ctx, "a", "j1"); err != nil {
		t.Fatal(err)
	}
	// A job that could not be queued gives its place in the rate back.
	if err := s.ReexportNotQueued(ctx, "a", "j3"); err != nil {
		t.Fatal(err)
	}
	if p, joined, err := s.QueueReexport(ctx, "a", job("j6", now.Add(5*time.Second)), any, limit, now.Add(5*time.Second)); err != nil || joined || p.JobID != "j6" {
		t.Fatalf("after j1 started and j3 failed: %+v %v %v", p, joined, err)
	}
	// The window slides.
	later := now.Add(time.Hour + 10*time.Second)
	if _, _, err := s.QueueReexport(ctx, "a", job("j7", later), none, limit, later); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestFutureLatestRunIsReplaced(t *testing.T) {
	s := open(t, time.Minute)
	ctx := context.Background()
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	future := event.ModellingCompleted{AccountID: "a", RunID: "r-future", CompletedAt: now.AddDate(1, 0, 0)}
	if _, err := s.RecordRun(ctx, future, future.CompletedAt); err != nil {
		t.Fatal(err)
	}
	ev := event.ModellingCompleted{AccountID: "a", RunID: "r1", CompletedAt: now}
	latest, err := s.RecordRun(ctx, ev, now.Add(5*time.Minute))
	if err != nil || latest.RunID != "r1" {
		t.Fatalf("a run dated next year still supersedes: %v %v", latest, err)
	}
}

func TestRunsAndCompletion(t *testing.T) {
	s := open(t, time.Minute)
	ctx := context.Background()
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	newer := event.ModellingCompleted{AccountID: "a", RunID: "r2", CompletedAt: at.Add(time.Minute)}
	older := event.ModellingCompleted{AccountID: "a", RunID: "r1", CompletedAt: at}
	if latest, err := s.RecordRun(ctx, newer, at.Add(time.Hour)); err != nil || latest.RunID != "r2" {
		t.Fatalf("%v %v", latest, err)
	}
	if latest, err := s.RecordRun(ctx, older, at.Add(time.Hour)); err != nil || latest.RunID != "r2" {
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
