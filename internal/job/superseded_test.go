package job

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/nats-io/nats.go"
)

// sinkRecorder keeps the outcomes the engine hands its sink.
type sinkRecorder struct {
	mu  sync.Mutex
	got []OutcomeMessage
}

func (s *sinkRecorder) Outcome(m OutcomeMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, m)
}

func (s *sinkRecorder) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// TestSupersededRedeliveryAnnouncesTheDump: a run exported by its first
// delivery, whose outcome was lost with the replica's connection and whose
// acknowledgement was lost too, comes back. The redelivery says on the bus
// that the run was committed (at its export time), also once a newer run
// was recorded meanwhile, where it used to say "skipped"; the notifiers,
// which heard it the first time, hear nothing again. A destination that
// never exported the run is reported skipped, as before.
func TestSupersededRedeliveryAnnouncesTheDump(t *testing.T) {
	f := newFixture(t, "", "a", "b")
	ctx := context.Background()
	sink := &sinkRecorder{}
	f.e.Sink = sink
	now := time.Now().UTC()
	f.clock.set(now)

	r1 := event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: now.Add(-2 * time.Minute)}
	if out := f.e.Handle(ctx, delivery(r1, 1)); out.String() != "ack" {
		t.Fatalf("r1: %v", out)
	}
	_, exported, _ := f.receipt("a")

	outcomes := make(chan *nats.Msg, 16)
	sub, err := f.nc.ChanSubscribe(OutcomeSubject("acme", "*"), outcomes)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := f.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	next := func(what string) map[string]OutcomeMessage {
		t.Helper()
		got := map[string]OutcomeMessage{}
		for len(got) < 2 {
			select {
			case m := <-outcomes:
				var om OutcomeMessage
				if err := json.Unmarshal(m.Data, &om); err != nil {
					t.Fatal(err)
				}
				got[om.Destination] = om
			case <-time.After(10 * time.Second):
				t.Fatalf("outcomes of %s: %+v", what, got)
			}
		}
		return got
	}
	committed := func(what string, o OutcomeMessage) {
		t.Helper()
		if o.Status != StatusCommitted || !o.Final || o.RunID != "r1" || !o.ExportTime.Equal(exported) || o.Location == "" || o.Files == 0 || o.Rows == 0 || o.Bytes == 0 {
			t.Errorf("%s: %+v, want r1 committed at %v", what, o, exported)
		}
	}

	// A redelivery (its acknowledgement lost) says again how r1 ended.
	before := sink.len()
	if out := f.e.Handle(ctx, delivery(r1, 2)); out.String() != "ack" {
		t.Fatalf("r1 again: %v", out)
	}
	got := next("a redelivery")
	committed("a redelivery to a", got["a"])
	committed("a redelivery to b", got["b"])
	if n := sink.len() - before; n != 0 {
		t.Errorf("the notifiers heard %d outcomes of a redelivery, want none", n)
	}

	// b lost its record of r1, as if r1 had never reached it.
	kv, err := f.js.KeyValue(ctx, "test_completed")
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "b.r1"); err != nil {
		t.Fatal(err)
	}
	r2 := event.ModellingCompleted{AccountID: "acme", RunID: "r2", CompletedAt: now.Add(-time.Minute)}
	if _, err := f.e.State.RecordRun(ctx, r2, now); err != nil {
		t.Fatal(err)
	}
	before = sink.len()
	if out := f.e.Handle(ctx, delivery(r1, 3)); out.String() != "ack" {
		t.Fatalf("r1 once more: %v", out)
	}
	got = next("a superseded redelivery")
	committed("a superseded redelivery to a", got["a"])
	if b := got["b"]; b.Status != StatusSkipped || b.Error != "superseded by run r2" {
		t.Errorf("b: %+v, want skipped (superseded by run r2)", b)
	}
	if n := sink.len() - before; n != 1 {
		t.Errorf("the notifiers heard %d outcomes of the redelivery, want 1 (b's)", n)
	}
}
