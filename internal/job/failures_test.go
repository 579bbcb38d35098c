package job

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/trigger"
)

// TestFailuresAreRecordedForStatus: each failed attempt becomes the
// destination's last failure (attempt, limit, error, next attempt or
// given up), and stays on record once a later dump commits.
func TestFailuresAreRecordedForStatus(t *testing.T) {
	f := newFixture(t, `max_deliver = 2
backoff = ["1s"]`, "a")
	root := f.roots["a"]
	// The destination's folder is a file: every delivery fails, retryably.
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ev := event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: time.Now().UTC().Add(-time.Minute)}
	f.e.Handle(ctx, delivery(ev, 1))
	d, err := f.e.State.Destination(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	lf := d.LastFailure
	if lf == nil || lf.Attempt != 1 || lf.MaxAttempts != 2 || lf.Final || lf.Kind != "retryable" || lf.RunID != "r1" ||
		lf.Account != "acme" || !strings.Contains(lf.Error, "not a directory") || !lf.RetryAt.Equal(lf.At.Add(time.Second)) {
		t.Fatalf("after the first attempt: %+v", lf)
	}
	f.clock.set(f.clock.Now().Add(time.Minute))
	f.e.Handle(ctx, delivery(ev, 2))
	if d, _ = f.e.State.Destination(ctx, "a"); d.LastFailure == nil || d.LastFailure.Attempt != 2 || !d.LastFailure.Final || !d.LastFailure.RetryAt.IsZero() {
		t.Fatalf("after the last attempt: %+v", d.LastFailure)
	}
	failedAt := d.LastFailure.At

	// Repaired, the next run commits; the failure stays, older than the dump.
	if err := os.Remove(root); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(root, 0o750); err != nil {
		t.Fatal(err)
	}
	f.clock.set(f.clock.Now().Add(time.Minute))
	ev2 := event.ModellingCompleted{AccountID: "acme", RunID: "r2", CompletedAt: time.Now().UTC()}
	if out := f.e.Handle(ctx, delivery(ev2, 1)); out.String() != "ack" {
		t.Fatalf("the repaired export: %v", out)
	}
	d, _ = f.e.State.Destination(ctx, "a")
	if d.LastFailure == nil || !d.LastFailure.At.Equal(failedAt) || !d.LastTime.After(failedAt) || d.Account != "acme" {
		t.Fatalf("after a commit: %+v", d)
	}
}

// TestForgedReexportRecordsNoFailure: a queued re-export naming another
// account's destination (only a forged message can) fails without writing
// into that destination's record.
func TestForgedReexportRecordsNoFailure(t *testing.T) {
	f := newFixture(t, `max_deliver = 2`, "a")
	ctx := context.Background()
	body := `{"job_id":"reexport-x","event":{"account_id":"globex","run_id":"r1","completed_at":"2024-01-01T00:00:00Z"},"destinations":["a"]}`
	out := f.e.Handle(ctx, trigger.Delivery{Subject: QueueSubjectPrefix + "globex", Data: []byte(body), Attempt: 1, StreamSeq: 1, Published: time.Now()})
	if !strings.HasPrefix(out.String(), "term: export failed") {
		t.Fatalf("the forged re-export: %v", out)
	}
	if d, err := f.e.State.Destination(ctx, "a"); err != nil || d.LastFailure != nil || d.Account != "" {
		t.Fatalf("destination a: %+v %v", d, err)
	}
}
