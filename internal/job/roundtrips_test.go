package job

import (
	"context"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
)

// TestSmallExportRequests counts the messages an export sends to NATS
// (each a request to JetStream but for the outcome): a small account's
// export is mostly this fixed cost. They are: the run and the account's
// latest run, the newest event in the stream, the completed pair, the
// lease, the destination's record, the attempt, the export time, the
// lease's renewal before the commit, the commit's intent, the commit, the
// completed pair, the lease's release and the outcome.
func TestSmallExportRequests(t *testing.T) {
	f := newFixture(t, "", "a")
	ctx := context.Background()
	ev := event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: time.Now().UTC().Add(-time.Minute)}
	// A first export creates the destination's record; the one measured
	// is the next run's, once the first one's released lease has expired
	// with the bucket's TTL, as it has by an account's next run (until
	// then, taking the lease again costs two more requests).
	if out := f.e.Handle(ctx, delivery(ev, 1)); out.String() != "ack" {
		t.Fatalf("first run: %v", out)
	}
	leases, err := f.js.Stream(ctx, "KV_test_leases")
	if err != nil {
		t.Fatal(err)
	}
	if err := leases.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	f.clock.set(f.clock.Now().Add(time.Minute))
	ev2 := event.ModellingCompleted{AccountID: "acme", RunID: "r2", CompletedAt: time.Now().UTC().Add(-time.Second)}
	if err := f.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	before := f.nc.Stats().OutMsgs
	if out := f.e.Handle(ctx, delivery(ev2, 1)); out.String() != "ack" {
		t.Fatalf("second run: %v", out)
	}
	sent := f.nc.Stats().OutMsgs - before
	const want = 15
	t.Logf("an export sent %d messages to NATS", sent)
	if sent > want {
		t.Fatalf("an export sent %d messages to NATS, want at most %d", sent, want)
	}
}
