package job

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/nats-io/nats.go/jetstream"
)

// TestReexportsCoalesce: a burst of identical requests queues one job,
// which every request joins; once it has started, new requests queue one
// more; past the account's rate limit, new jobs are refused while joining
// still works.
func TestReexportsCoalesce(t *testing.T) {
	f := newFixture(t, `reexport_limit = 2
reexport_window = "1h"`, "a", "b")
	ctx := context.Background()
	now := time.Now().UTC()
	f.clock.set(now)
	r1 := event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: now.Add(-time.Minute)}
	if _, err := f.e.State.RecordRun(ctx, r1, f.e.notAfter()); err != nil {
		t.Fatal(err)
	}
	burst := func(req ReexportRequest) map[string]int {
		var mu sync.Mutex
		jobs := map[string]int{}
		var wg sync.WaitGroup
		for range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				reply := f.e.Reexport(ctx, "acme", req)
				mu.Lock()
				defer mu.Unlock()
				if reply.Error != "" {
					t.Errorf("refused: %s", reply.Error)
				}
				jobs[reply.JobID]++
			}()
		}
		wg.Wait()
		return jobs
	}
	first := burst(ReexportRequest{})
	if len(first) != 1 {
		t.Fatalf("100 requests queued %d jobs: %v", len(first), first)
	}
	if n := f.queued(); n != 1 {
		t.Fatalf("%d messages queued in the stream", n)
	}
	// A narrower request (one destination) joins it too.
	if reply := f.e.Reexport(ctx, "acme", ReexportRequest{Destinations: []string{"b"}}); !reply.Joined {
		t.Fatalf("a narrower request: %+v", reply)
	}

	// The job starts: later requests make one more job.
	f.handleQueued()
	second := burst(ReexportRequest{Destinations: []string{"a"}})
	if len(second) != 1 {
		t.Fatalf("100 requests after the first job started queued %d jobs", len(second))
	}
	for id := range second {
		if _, ok := first[id]; ok {
			t.Fatal("requests joined a job that had started")
		}
	}
	f.handleQueued()
	// Two jobs in the hour: a third is refused, with when it may come.
	reply := f.e.Reexport(ctx, "acme", ReexportRequest{})
	if !strings.Contains(reply.Error, "rate limit") || !strings.Contains(reply.Error, "queued 2 re-exports in the last 1h0m0s") {
		t.Fatalf("a third job in the window: %+v", reply)
	}
}

// queued counts the re-export messages in the stream.
func (f *fixture) queued() int {
	f.t.Helper()
	s, err := f.js.Stream(context.Background(), f.e.Config.NATS.Stream)
	if err != nil {
		f.t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(QueueSubjectPrefix+">"))
	if err != nil {
		f.t.Fatal(err)
	}
	return int(info.State.Msgs)
}

// handleQueued fetches the next queued message and lets the engine
// handle it, as the consumer would.
func (f *fixture) handleQueued() {
	f.t.Helper()
	ctx := context.Background()
	batch, err := f.cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		f.t.Fatal(err)
	}
	for m := range batch.Messages() {
		md, _ := m.Metadata()
		out := f.e.Handle(ctx, deliveryOf(m, md))
		if out.String() != "ack" {
			f.t.Fatalf("queued job: %v", out)
		}
		m.Ack()
		f.clock.set(f.clock.Now().Add(time.Minute))
		return
	}
	f.t.Fatal("nothing was queued")
}
