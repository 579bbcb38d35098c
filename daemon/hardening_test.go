package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/job"
	"github.com/exportd/exportd/internal/state"
	"github.com/exportd/exportd/internal/trigger"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// outcomesOf returns the outcomes seen so far for one run of a
// destination.
func (c *cluster) outcomesOf(dest, runID string) []job.OutcomeMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []job.OutcomeMessage
	for _, o := range c.outcomes {
		if o.Destination == dest && o.RunID == runID {
			out = append(out, o)
		}
	}
	return out
}

// waitOutcome waits until an outcome for which ok holds has been seen.
func (c *cluster) waitOutcome(timeout time.Duration, what string, ok func(job.OutcomeMessage) bool) job.OutcomeMessage {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		for _, o := range c.outcomes {
			if ok(o) {
				c.mu.Unlock()
				return o
			}
		}
		c.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("no outcome %s within %v", what, timeout)
	return job.OutcomeMessage{}
}

// dumpFolders lists an account's minute folders.
func (c *cluster) dumpFolders(account string) []string {
	folders, _ := filepath.Glob(filepath.Join(c.out, account, "dumps", "20*"))
	return folders
}

// TestNewestRunWaitsForTheLease: with max_deliver = 2, a newer run that
// finds its destination leased by another replica's long export waits for
// as many deliveries as that takes, and is exported once the lease frees.
func TestNewestRunWaitsForTheLease(t *testing.T) {
	t.Parallel() // mostly waits for the next minute or for redeliveries
	c := newCluster(t, []string{"acme"}, sampleRows)
	c.maxDeliver = 2
	c.start()
	now := time.Now().UTC()
	c.publish(event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: now.Add(-2 * time.Minute)})
	waitFile(t, filepath.Join(c.out, "acme", "dumps", "receipt.json"), time.Minute)
	c.settle(time.Minute)

	// Another replica's long export holds the destination.
	ctx := context.Background()
	st := c.store()
	lease, err := st.Acquire(ctx, "acme-local", state.LeaseHolder{Owner: "another replica", Job: "a long export"})
	if err != nil {
		t.Fatal(err)
	}
	var lost atomic.Value
	kctx, stopKeeping := context.WithCancel(ctx)
	go lease.Keep(kctx, func(err error) { lost.Store(err) })
	seq, err := trigger.PublishEvent(ctx, c.js, event.ModellingCompleted{AccountID: "acme", RunID: "run-2", CompletedAt: now.Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	// run-2 is delivered again and again, more often than max_deliver,
	// and never given up.
	cons, err := c.js.Consumer(ctx, config.DefaultStream, config.DefaultConsumer)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		deliveries := int(info.Delivered.Consumer) - 1 // run-1 was delivered once
		if info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream >= seq {
			stopKeeping()
			t.Fatalf("run-2 was given up after %d deliveries while another job held the lease", deliveries)
		}
		if deliveries > 2*c.maxDeliver {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run-2 was delivered %d times in a minute", deliveries)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, o := range c.outcomesOf("acme-local", "run-2") {
		if o.Final || o.Status != job.StatusWaiting {
			t.Fatalf("outcome while the lease is held: %+v", o)
		}
	}
	stopKeeping()
	if err, _ := lost.Load().(error); err != nil {
		t.Fatalf("the test's lease was lost: %v", err)
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}

	c.waitOutcome(3*time.Minute, "committing run-2", func(o job.OutcomeMessage) bool {
		return o.RunID == "run-2" && o.Status == job.StatusCommitted
	})
	c.settle(time.Minute)
	if ds, err := st.Destination(ctx, "acme-local"); err != nil || ds.LastRunID != "run-2" {
		t.Fatalf("destination state %+v, %v", ds, err)
	}
	checkDump(t, filepath.Join(c.out, "acme"), "dumps", "acme", c.rows, c.receipt("acme"), false)
}

// TestRollingRestartsUseNoAttempts: with max_deliver = 2 and no grace
// period, two daemons stopped in turn during the export do not use the
// event up; the third completes it.
func TestRollingRestartsUseNoAttempts(t *testing.T) {
	t.Parallel()
	c := newCluster(t, []string{"acme"}, longRows)
	c.maxDeliver = 2
	c.grace = "0s"
	d1 := c.start()
	c.publish(event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC()})
	c.waitDelivering("acme")
	stopNow(t, d1)

	d2 := c.start()
	waitAnyLog(t, d2, time.Minute, "export started", "waiting for the next free minute")
	stopNow(t, d2)
	if c.receipt("acme") != nil {
		t.Fatal("a stopped daemon wrote the receipt")
	}

	c.grace = ""
	c.start()
	waitFile(t, filepath.Join(c.out, "acme", "dumps", "receipt.json"), 3*time.Minute)
	c.settle(time.Minute)
	checkDump(t, filepath.Join(c.out, "acme"), "dumps", "acme", c.rows, c.receipt("acme"), false)
}

// stopNow sends SIGTERM and waits for a clean exit.
func stopNow(t *testing.T, d *daemon) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.waitExit(t, time.Minute)
	if !d.cmd.ProcessState.Success() {
		t.Fatalf("exportd exited with %v; output:\n%s", d.cmd.ProcessState, d.out)
	}
}

// waitAnyLog waits until the daemon's output contains one of lines.
func waitAnyLog(t *testing.T, d *daemon, timeout time.Duration, lines ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		out := d.out.String()
		for _, l := range lines {
			if strings.Contains(out, l) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("exportd logged none of %q; output:\n%s", lines, d.out)
}

// TestCrashLoopKeepsExportTimeTrue: an export that kills its daemon twice
// (kill -9 while delivering) is finally committed by a third daemon with a
// receipt whose timestamp is a true time: not later than the receipt was
// written. Each attempt waited for the next free minute instead of
// reserving minutes ahead.
func TestCrashLoopKeepsExportTimeTrue(t *testing.T) {
	t.Parallel() // mostly waits for the next minute or for redeliveries
	c := newCluster(t, []string{"acme"}, sampleRows)
	cfg := c.config()
	for i := range 2 {
		victim := startDaemon(t, cfg, "EXPORTD_TEST_CRASH="+job.CrashWhileDelivering)
		victim.waitLog(t, "exportd running", 60*time.Second)
		if i == 0 {
			c.publish(event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC()})
		}
		victim.waitExit(t, 3*time.Minute)
		if ws, ok := victim.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("exportd ended with %v, want SIGKILL; output:\n%s", victim.cmd.ProcessState, victim.out)
		}
		c.replicas = append(c.replicas, victim)
	}
	c.replicas = append(c.replicas, startDaemon(t, cfg))
	receipt := filepath.Join(c.out, "acme", "dumps", "receipt.json")
	waitFile(t, receipt, 3*time.Minute)
	c.settle(time.Minute)
	_, ts, err := legacylayout.ParseReceipt(c.receipt("acme"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(receipt)
	if err != nil {
		t.Fatal(err)
	}
	if ts.After(info.ModTime()) {
		t.Fatalf("the receipt written at %v says its dump started at %v", info.ModTime().UTC(), ts)
	}
	if n := len(c.dumpFolders("acme")); n != 3 {
		t.Errorf("%d dump folders for three attempts", n)
	}
	checkDump(t, filepath.Join(c.out, "acme"), "dumps", "acme", c.rows, c.receipt("acme"), false)
}

// TestCrashAfterCommitRecommits: a daemon killed after the destination's
// Commit and before it recorded the commit leaves a receipt; the
// redelivered event makes the same dump visible again, with the same
// receipt bytes, instead of dumping the run again into a new minute.
func TestCrashAfterCommitRecommits(t *testing.T) {
	t.Parallel() // mostly waits for the next minute or for redeliveries
	c := newCluster(t, []string{"acme"}, sampleRows)
	cfg := c.config()
	victim := startDaemon(t, cfg, "EXPORTD_TEST_CRASH="+job.CrashAfterCommit)
	victim.waitLog(t, "exportd running", 60*time.Second)
	c.publish(event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC()})
	victim.waitExit(t, time.Minute)
	if ws, ok := victim.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("exportd ended with %v, want SIGKILL; output:\n%s", victim.cmd.ProcessState, victim.out)
	}
	first := c.receipt("acme")
	if first == nil {
		t.Fatal("the crashed daemon's commit wrote no receipt")
	}

	heir := startDaemon(t, cfg)
	c.replicas = append(c.replicas, victim, heir)
	o := c.waitOutcome(2*time.Minute, "committing run-1", func(o job.OutcomeMessage) bool {
		return o.RunID == "run-1" && o.Status == job.StatusCommitted
	})
	c.settle(time.Minute)
	if again := c.receipt("acme"); !bytes.Equal(again, first) {
		t.Fatalf("the receipt changed:\n%s\nwas:\n%s", again, first)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, first); err != nil || !bytes.Equal(o.Receipt, compact.Bytes()) {
		t.Fatalf("the outcome's receipt differs:\n%s (%v)", o.Receipt, err)
	}
	if !strings.Contains(heir.out.String(), "recommit=true") {
		t.Fatalf("the heir did not recommit; output:\n%s", heir.out)
	}
	if n := len(c.dumpFolders("acme")); n != 1 {
		t.Fatalf("%d dump folders: the run was dumped again", n)
	}
	_, ts, _ := legacylayout.ParseReceipt(first)
	ds, err := c.store().Destination(context.Background(), "acme-local")
	if err != nil || !ds.LastTime.Equal(ts) || ds.Intent != nil || ds.LastRunID != "run-1" {
		t.Fatalf("destination state %+v, %v", ds, err)
	}
	checkDump(t, filepath.Join(c.out, "acme"), "dumps", "acme", c.rows, first, false)
}

// TestReexportFloodCoalesces: 100 re-export requests in a second make at
// most two exports (one that starts at once, one that every later
// request joins), and every request's job reports its outcome.
func TestReexportFloodCoalesces(t *testing.T) {
	t.Parallel() // mostly waits for the next minute or for redeliveries
	c := newCluster(t, []string{"acme"}, sampleRows)
	c.start()
	c.publish(event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC()})
	waitFile(t, filepath.Join(c.out, "acme", "dumps", "receipt.json"), time.Minute)
	c.settle(time.Minute)

	var mu sync.Mutex
	jobs := map[string]int{}
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg, err := c.nc.Request(job.ReexportSubjectPrefix+"acme", nil, 10*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			var reply job.ReexportReply
			if err := json.Unmarshal(msg.Data, &reply); err != nil || reply.Error != "" {
				t.Errorf("reply %s: %v", msg.Data, err)
				return
			}
			mu.Lock()
			jobs[reply.JobID]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(jobs) > 2 {
		t.Fatalf("100 requests made %d jobs", len(jobs))
	}
	for id := range jobs {
		c.waitOutcome(3*time.Minute, "of job "+id, func(o job.OutcomeMessage) bool {
			return o.JobID == id && o.Final
		})
	}
	c.settle(time.Minute)
	exports := 0
	for _, o := range c.outcomesOf("acme-local", "run-1") {
		if o.Status == job.StatusCommitted {
			exports++
		}
	}
	if exports > 3 {
		t.Fatalf("%d exports of run-1: one by the event, at most two by 100 re-export requests", exports)
	}
	checkDump(t, filepath.Join(c.out, "acme"), "dumps", "acme", c.rows, c.receipt("acme"), false)
}

// TestSameRunIDInTwoAccounts: accounts' run ids need not be unique across
// accounts: `exportd publish` de-duplicates by account and run.
func TestSameRunIDInTwoAccounts(t *testing.T) {
	t.Parallel() // mostly waits for the next minute or for redeliveries
	rows := map[string]int64{"companies": 20, "contacts": 20, "events": 50, "revenue": 5, "revenue_attribution": 5, "paid_ads": 5}
	c := newCluster(t, []string{"acme", "globex"}, rows)
	c.start()
	for _, a := range []string{"acme", "globex"} {
		if out, code := runExportd(t, "publish", "-nats", c.nats.URL, "-account", a, "-run-id", "17"); code != 0 {
			t.Fatalf("publish for %s: %s", a, out)
		}
	}
	for _, a := range []string{"acme", "globex"} {
		waitFile(t, filepath.Join(c.out, a, "dumps", "receipt.json"), time.Minute)
	}
}
