package job

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/parquetw"
	"github.com/exportd/exportd/internal/state"
)

// TestLeaseWaitsUseNoAttempts: while another job holds the destination's
// lease, every delivery of the event is handed back to wait, however many
// deliveries that takes; once the lease is free the run is exported.
func TestLeaseWaitsUseNoAttempts(t *testing.T) {
	f := newFixture(t, `max_deliver = 2
backoff = ["1s"]
lease_ttl = "5s"`, "a")
	ctx := context.Background()
	other, err := f.e.State.Acquire(ctx, "a", state.LeaseHolder{Owner: "another replica", Job: "a long export"})
	if err != nil {
		t.Fatal(err)
	}
	ev := event.ModellingCompleted{AccountID: "acme", RunID: "r2", CompletedAt: time.Now().UTC().Add(-time.Minute)}
	for attempt := 1; attempt <= 5; attempt++ {
		if out := f.e.Handle(ctx, delivery(ev, attempt)); out.String() != "retry in 1s" {
			t.Fatalf("delivery %d while leased: %v", attempt, out)
		}
	}
	if err := other.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if out := f.e.Handle(ctx, delivery(ev, 6)); out.String() != "ack" {
		t.Fatalf("delivery once the lease is free: %v", out)
	}
	if _, _, body := f.receipt("a"); body == nil {
		t.Fatal("the run was not exported")
	}
}

// cancelOnFirstFile is an observer that cancels an export once its first
// file is encoded, as a daemon stopping after its grace period would.
type cancelOnFirstFile struct {
	mu     sync.Mutex
	cancel context.CancelFunc
}

func (c *cancelOnFirstFile) arm(cancel context.CancelFunc) {
	c.mu.Lock()
	c.cancel = cancel
	c.mu.Unlock()
}

func (c *cancelOnFirstFile) FileEncoded(string, parquetw.File) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
		c.cancel = nil
	}
}
func (c *cancelOnFirstFile) TableStarted(string, string)                                {}
func (c *cancelOnFirstFile) RowsEncoded(string, string, int64)                          {}
func (c *cancelOnFirstFile) FileDelivered(string, string, parquetw.File, time.Duration) {}
func (c *cancelOnFirstFile) TableEncoded(string, parquetw.Summary)                      {}

// TestShutdownsUseNoAttempts: an export interrupted because the daemon is
// stopping is handed back at once and does not count, so rolling restarts
// never use up an event's attempts.
func TestShutdownsUseNoAttempts(t *testing.T) {
	f := newFixture(t, `max_deliver = 2
backoff = ["1s"]`, "a")
	obs := &cancelOnFirstFile{}
	f.e.Runner.Observer = obs
	ev := event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: time.Now().UTC().Add(-time.Minute)}
	for attempt := 1; attempt <= 3; attempt++ {
		ctx, cancel := context.WithCancel(context.Background())
		obs.arm(cancel)
		out := f.e.Handle(ctx, delivery(ev, attempt))
		cancel()
		if out.String() != "retry in 1s" {
			t.Fatalf("delivery %d, interrupted: %v", attempt, out)
		}
		f.clock.set(f.clock.Now().Add(time.Minute)) // the next minute is free
	}
	if out := f.e.Handle(context.Background(), delivery(ev, 4)); out.String() != "ack" {
		t.Fatalf("delivery after the interruptions: %v", out)
	}
	if _, _, body := f.receipt("a"); body == nil {
		t.Fatal("the run was not exported")
	}
}

// TestFailuresUseAttempts: real failures do count, and the event is given
// up after max_deliver of them.
func TestFailuresUseAttempts(t *testing.T) {
	f := newFixture(t, `max_deliver = 2
backoff = ["1s"]`, "a")
	// The destination's folder is a file: every delivery fails, retryably.
	if err := os.RemoveAll(f.roots["a"]); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.roots["a"], nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ev := event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: time.Now().UTC().Add(-time.Minute)}
	var outs []string
	for attempt := 1; attempt <= 3; attempt++ {
		outs = append(outs, f.e.Handle(ctx, delivery(ev, attempt)).String())
		f.clock.set(f.clock.Now().Add(time.Minute)) // past the backoff, and a free minute
	}
	if outs[0] != "retry in 1s" || !strings.HasPrefix(outs[1], "term: export failed") || outs[2] != "ack" {
		t.Fatalf("outcomes:\n%s", strings.Join(outs, "\n"))
	}
	a, v, err := f.e.State.StartAttempt(ctx, "a", "r1", 2, f.clock.Now())
	if err != nil || v != state.Exhausted || !strings.Contains(a.LastError, "not a directory") {
		t.Fatalf("attempts %+v %v %v", a, v, err)
	}
}
