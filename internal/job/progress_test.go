package job

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/nats-io/nats.go"
)

// progressOf collects the progress messages published on NATS.
func progressOf(t *testing.T, f *fixture) func() []ProgressMessage {
	t.Helper()
	var mu sync.Mutex
	var got []ProgressMessage
	sub, err := f.nc.Subscribe(ProgressSubjectPrefix+">", func(m *nats.Msg) {
		var p ProgressMessage
		if err := json.Unmarshal(m.Data, &p); err != nil {
			t.Errorf("progress %s: %v", m.Data, err)
			return
		}
		if m.Subject != ProgressSubject(p.Account, p.Destination) {
			t.Errorf("progress of %s/%s on %s", p.Account, p.Destination, m.Subject)
		}
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	return func() []ProgressMessage {
		f.nc.Flush()
		mu.Lock()
		defer mu.Unlock()
		return append([]ProgressMessage(nil), got...)
	}
}

// TestProgressIsPublished: an export that outlasts the interval publishes
// how far each destination is, with the engine's job id, growing counts
// that never pass what was committed, and tables encoded.
func TestProgressIsPublished(t *testing.T) {
	f := newFixture(t, "", "a", "b")
	p := NewProgress(f.e.Bus, 10*time.Millisecond, nil)
	f.e.Progress, f.e.Runner.Observer = p, TeeObserver(p)
	got := progressOf(t, f)
	outcomes := make(chan OutcomeMessage, 4)
	sub, err := f.nc.Subscribe(OutcomesSubjectPrefix+">", func(m *nats.Msg) {
		var o OutcomeMessage
		json.Unmarshal(m.Data, &o)
		outcomes <- o
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	ev := event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: time.Now().UTC().Add(-time.Minute)}
	if out := f.e.Handle(context.Background(), delivery(ev, 1)); out.String() != "ack" {
		t.Fatalf("export: %v", out)
	}
	final := map[string]OutcomeMessage{}
	for range 2 {
		o := <-outcomes
		final[o.Destination] = o
	}
	msgs := got()
	if len(msgs) == 0 {
		t.Fatal("no progress was published")
	}
	last := map[string]ProgressMessage{}
	for _, m := range msgs {
		o := final[m.Destination]
		if m.JobID != o.JobID || !strings.HasPrefix(m.JobID, "run-") || m.Account != "acme" || m.RunID != "r1" {
			t.Fatalf("progress %+v of the job %s", m, o.JobID)
		}
		prev := last[m.Destination]
		if m.Files < prev.Files || m.Rows < prev.Rows || m.Bytes < prev.Bytes || m.TablesEncoded < prev.TablesEncoded || m.RowsEncoded < prev.RowsEncoded {
			t.Fatalf("progress went back: %+v after %+v", m, prev)
		}
		if m.Files > o.Files || m.Rows > o.Rows || m.Bytes > o.Bytes || m.TablesEncoded > 6 {
			t.Fatalf("progress %+v passes the outcome %+v", m, o)
		}
		last[m.Destination] = m
	}
	if len(last) != 2 {
		t.Fatalf("progress of %d destinations", len(last))
	}
	// Nothing more once the export is over.
	n := len(msgs)
	time.Sleep(50 * time.Millisecond)
	if len(got()) != n {
		t.Fatal("progress was published after the export ended")
	}
}

// TestShortExportsPublishNoProgress: an export that ends within the
// interval publishes nothing.
func TestShortExportsPublishNoProgress(t *testing.T) {
	f := newFixture(t, "", "a")
	p := NewProgress(f.e.Bus, time.Hour, nil)
	f.e.Progress, f.e.Runner.Observer = p, TeeObserver(p)
	got := progressOf(t, f)
	ev := event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: time.Now().UTC().Add(-time.Minute)}
	if out := f.e.Handle(context.Background(), delivery(ev, 1)); out.String() != "ack" {
		t.Fatalf("export: %v", out)
	}
	if msgs := got(); len(msgs) != 0 {
		t.Fatalf("%d progress messages", len(msgs))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.jobs) != 0 {
		t.Fatalf("%d jobs still tracked", len(p.jobs))
	}
}
