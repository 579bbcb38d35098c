package job

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
)

// TestFutureCompletedAtIsRefused: an event whose run completed "next
// year" is given up with an advisory instead of becoming the account's
// latest run, and later events are exported. A run dated in the future
// that an older daemon recorded supersedes nothing either, and a re-export
// of it is refused.
func TestFutureCompletedAtIsRefused(t *testing.T) {
	f := newFixture(t, "", "a")
	ctx := context.Background()
	advisories := f.advisories()
	now := time.Now().UTC()
	f.clock.set(now)

	future := event.ModellingCompleted{AccountID: "acme", RunID: "r-future", CompletedAt: now.AddDate(1, 0, 0)}
	if out := f.e.Handle(ctx, delivery(future, 1)); !strings.HasPrefix(out.String(), "term: malformed: completed_at") {
		t.Fatalf("future event: %v", out)
	}
	if got := advisories(); len(got) != 1 || !strings.Contains(got[0].Reason, "cannot have completed in the future") {
		t.Fatalf("advisories %+v", got)
	}
	r1 := event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: now.Add(-time.Minute)}
	if out := f.e.Handle(ctx, delivery(r1, 1)); out.String() != "ack" {
		t.Fatalf("the next event: %v", out)
	}
	if _, _, body := f.receipt("a"); body == nil {
		t.Fatal("the next event was not exported")
	}

	// As an older daemon would have recorded it.
	if _, err := f.e.State.RecordRun(ctx, future, future.CompletedAt); err != nil {
		t.Fatal(err)
	}
	if reply := f.e.Reexport(ctx, "acme", ReexportRequest{RunID: "r-future"}); !strings.Contains(reply.Error, "cannot have completed in the future") {
		t.Fatalf("re-export of a future run: %+v", reply)
	}
	f.clock.set(now.Add(time.Minute))
	r2 := event.ModellingCompleted{AccountID: "acme", RunID: "r2", CompletedAt: now}
	if out := f.e.Handle(ctx, delivery(r2, 1)); out.String() != "ack" {
		t.Fatalf("an event after a recorded future run: %v", out)
	}
	if ds, _ := f.e.State.Destination(ctx, "a"); ds.LastRunID != "r2" {
		t.Fatalf("the destination's last run is %s, want r2", ds.LastRunID)
	}
	if latest, _, _ := f.e.State.LatestRun(ctx, "acme"); latest.RunID != "r2" {
		t.Fatalf("the account's latest run is %s, want r2", latest.RunID)
	}
}
