package job

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/sdk"
)

// heldCatalog counts the destination sets handed out and not released.
type heldCatalog struct {
	Catalog
	held atomic.Int32
}

func (c *heldCatalog) Destinations(account string) *DestinationSet {
	set := c.Catalog.Destinations(account)
	c.held.Add(1)
	set.Release = func() { c.held.Add(-1) }
	return set
}

// heldSink records how many sets were held when each outcome came out.
type heldSink struct {
	c    *heldCatalog
	seen []int32
}

func (s *heldSink) Outcome(OutcomeMessage) { s.seen = append(s.seen, s.c.held.Load()) }

// TestExportHoldsItsDestinations: an export keeps the set of destinations
// it began with until it is over (so that their configuration cannot be
// taken from under it), and releases it then; a destination that cannot be
// opened fails the export to it alone, naming why.
func TestExportHoldsItsDestinations(t *testing.T) {
	f := newFixture(t, "", "a", "b")
	cat := &heldCatalog{Catalog: f.e.Catalog}
	f.e.Catalog = cat
	sink := &heldSink{c: cat}
	f.e.Sink = sink
	ev := event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: time.Now().UTC().Add(-time.Minute)}
	if out := f.e.Handle(context.Background(), delivery(ev, 1)); out.String() != "ack" {
		t.Fatalf("handle: %s", out)
	}
	if len(sink.seen) != 2 || sink.seen[0] != 1 || sink.seen[1] != 1 {
		t.Fatalf("sets held at each outcome: %v, want the one set throughout", sink.seen)
	}
	if n := cat.held.Load(); n != 0 {
		t.Fatalf("%d sets still held after the export", n)
	}

	// b's registration cannot be used: a's export goes on.
	broken := f.e.Catalog
	f.e.Catalog = brokenCatalog{broken, "b"}
	f.e.Sink = nil
	ev.RunID, ev.CompletedAt = "r2", time.Now().UTC()
	results := f.e.export(context.Background(), spec{jobID: "j2", event: ev, dests: []string{"a", "b"}, completion: "r2", maxAttempt: 1})
	got := map[string]string{}
	for _, r := range results {
		got[r.dest] = r.status
	}
	if got["a"] != StatusCommitted || got["b"] != StatusFailed {
		t.Fatalf("results %v", got)
	}
}

// brokenCatalog makes one destination impossible to open.
type brokenCatalog struct {
	Catalog
	name string
}

func (c brokenCatalog) Destinations(account string) *DestinationSet {
	set := c.Catalog.Destinations(account)
	for i, d := range set.List {
		if d.Name == c.name {
			set.List[i].Open = func(context.Context) (sdk.Destination, error) {
				return nil, sdk.ConfigError("", errCannotOpen)
			}
		}
	}
	return set
}

var errCannotOpen = errors.New("the registration's key is missing")
