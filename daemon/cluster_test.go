package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/job"
	"github.com/exportd/exportd/internal/state"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk/legacylayout"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var clusterAccounts = flag.Int("cluster-accounts", 150, "accounts in the burst of TestClusterLeaderKilled")

// jsCluster is a three-node JetStream cluster of nats-server processes,
// exportd replicas pointed at all three with replicas = 3, and what the
// test observes: outcomes, and the shared state.
type jsCluster struct {
	t         *testing.T
	nats      *testsupport.NATSCluster
	nc        *nats.Conn
	js        jetstream.JetStream
	out       string
	pluginDir string
	accounts  []string

	mu          sync.Mutex
	outcomes    []job.OutcomeMessage
	replicas    []*daemon
	pending     []event.ModellingCompleted
	republished int
}

func newJSCluster(t *testing.T, o testsupport.NATSClusterOptions, accounts []string) *jsCluster {
	c := &jsCluster{
		t:         t,
		nats:      testsupport.StartNATSCluster(t, o),
		out:       t.TempDir(),
		pluginDir: testsupport.PluginDir(t, "localfs"),
		accounts:  accounts,
	}
	nc, err := nats.Connect(c.nats.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c.nc = nc
	if c.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	sub, err := nc.Subscribe(job.OutcomesSubjectPrefix+">", func(m *nats.Msg) {
		var om job.OutcomeMessage
		if json.Unmarshal(m.Data, &om) == nil {
			c.mu.Lock()
			c.outcomes = append(c.outcomes, om)
			c.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = sub.SetPendingLimits(-1, -1)
	return c
}

// config is a replica's configuration: its own data directory, the
// three NATS URLs with three replicas, one localfs destination (fsync
// off) per account, and a small sample dataset (seven files a dump).
func (c *jsCluster) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, `
data_dir   = %q
plugin_dir = %q
nats {
  url      = %q
  replicas = 3
}
http { listen = "" }
jobs {
  workers     = 4
  ack_wait    = "40s"
  lease_ttl   = "40s"
  max_deliver = 30
  backoff     = ["1s"]
}
source "sample" { scale = %s }
`, c.t.TempDir(), c.pluginDir, c.nats.URLs(), fleetScale)
	for _, a := range c.accounts {
		fmt.Fprintf(&b, "destination \"localfs\" %q {\n  account = %q\n  path    = %q\n  fsync   = false\n}\n", a, a, filepath.Join(c.out, a))
	}
	return writeConfig(c.t, b.String())
}

// startReplicas starts n replicas at the same moment and waits until each
// consumes.
func (c *jsCluster) startReplicas(n int, within time.Duration) []*daemon {
	c.t.Helper()
	ds := make([]*daemon, n)
	cfgs := make([]string, n)
	for i := range cfgs {
		cfgs[i] = c.config()
	}
	for i := range ds {
		ds[i] = startDaemon(c.t, cfgs[i])
	}
	c.mu.Lock()
	c.replicas = append(c.replicas, ds...)
	c.mu.Unlock()
	for _, d := range ds {
		d.waitLog(c.t, "exportd running", within)
	}
	return ds
}

// store opens the shared state the replicas keep.
func (c *jsCluster) store() *state.Store {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := state.Open(ctx, c.js, state.Options{Prefix: config.DefaultKVPrefix, Replicas: 3, LeaseTTL: 40 * time.Second})
	if err != nil {
		c.t.Fatal(err)
	}
	return s
}

// TestClusterStartTogether: replicas started at the same moment all come
// up: against a cluster started a moment before (its meta leader not
// elected yet); with one node down, once the stream and buckets exist; and
// on a fresh cluster with one node down, where three replicas of each
// bucket cannot be placed until the node is back, which they wait for.
func TestClusterStartTogether(t *testing.T) {
	t.Parallel() // mostly waits for JetStream
	t.Run("three replicas, cluster just started", func(t *testing.T) {
		c := newJSCluster(t, testsupport.NATSClusterOptions{NoWait: true}, []string{"acme"})
		c.startTogether(3, 2*time.Minute)
	})
	t.Run("two replicas, one node down", func(t *testing.T) {
		c := newJSCluster(t, testsupport.NATSClusterOptions{}, []string{"acme"})
		first := c.startTogether(1, 2*time.Minute)
		first[0].stop(t)
		c.nats.Kill(2)
		c.startTogether(2, 2*time.Minute)
	})
	t.Run("two replicas, fresh cluster, one node down for a while", func(t *testing.T) {
		c := newJSCluster(t, testsupport.NATSClusterOptions{NoWait: true}, []string{"acme"})
		c.nats.Kill(2)
		exportdBinary(t)
		ds := []*daemon{startDaemon(t, c.config()), startDaemon(t, c.config())}
		for _, d := range ds {
			d.waitLog(t, "NATS is not ready yet; retrying", time.Minute)
		}
		time.Sleep(10 * time.Second)
		c.nats.Restart(2)
		for _, d := range ds {
			d.waitLog(t, "exportd running", 2*time.Minute)
			d.waitLog(t, "NATS ready", time.Second)
		}
		c.checkNoErrors(ds)
	})
}

// startTogether starts n replicas at the same moment and waits until each
// consumes, without an error logged.
func (c *jsCluster) startTogether(n int, within time.Duration) []*daemon {
	c.t.Helper()
	exportdBinary(c.t) // built before the clock starts
	start := time.Now()
	ds := c.startReplicas(n, within)
	c.t.Logf("%d replicas running %v after they started", n, time.Since(start).Round(time.Millisecond))
	c.checkNoErrors(ds)
	return ds
}

// checkNoErrors fails if a replica logged an error.
func (c *jsCluster) checkNoErrors(ds []*daemon) {
	c.t.Helper()
	for _, d := range ds {
		if strings.Contains(d.out.String(), "level=ERROR") {
			c.t.Errorf("a replica logged an error:\n%s", d.out)
		}
	}
	if os.Getenv("EXPORTD_TEST_SHOW_LOGS") != "" {
		for _, d := range ds {
			c.t.Logf("exportd output:\n%s", d.out)
		}
	}
}

// TestClusterStreamLeaderKilled: two replicas, a burst of events for many
// accounts (-cluster-accounts, 150 by default), two runs each; the node
// leading the event stream is killed mid-burst and restarted. Every
// account ends with its latest run's dump, complete; no run is dumped
// twice to a destination; every event is handled.
func TestClusterStreamLeaderKilled(t *testing.T) {
	testLeaderKilled(t, config.DefaultStream)
}

// TestClusterKVLeaderKilled: the same, killing the node that leads the
// destinations bucket (another bucket when that node also leads the
// stream).
func TestClusterKVLeaderKilled(t *testing.T) {
	testLeaderKilled(t, "")
}

// testLeaderKilled runs the burst and kills the leader of stream; empty
// stream means a KV bucket led by a node that does not lead the event
// stream.
func testLeaderKilled(t *testing.T, stream string) {
	accounts := make([]string, *clusterAccounts)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("acct%04d", i)
	}
	c := newJSCluster(t, testsupport.NATSClusterOptions{}, accounts)
	c.listenEveryNode()
	c.startTogether(2, 2*time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	base := time.Now().UTC().Add(-time.Hour)
	runOf := func(a string, n int) event.ModellingCompleted {
		return event.ModellingCompleted{AccountID: a, RunID: fmt.Sprintf("%s-run-%d", a, n), CompletedAt: base.Add(time.Duration(n) * time.Minute)}
	}
	start := time.Now()
	for _, a := range accounts {
		c.publishAsync(runOf(a, 1))
	}
	c.waitPublished(ctx)
	c.waitFinal(ctx, len(accounts)/3)

	victim, led := c.victim(ctx, stream)
	t.Logf("killing %s, leader of %s, after %d of %d first runs were handled (%v into the burst)",
		c.nats.Nodes[victim].Name, strings.Join(led, ", "), c.finalCount(), len(accounts), time.Since(start).Round(time.Millisecond))
	c.nats.Kill(victim)
	killed := time.Now()
	// The second runs are published during the election; the publisher
	// retries until JetStream stores each.
	for _, a := range accounts {
		c.publishAsync(runOf(a, 2))
	}
	_, election, err := c.nats.WaitNewLeader(ctx, led[0], victim)
	if err != nil {
		t.Fatal(err)
	}
	c.waitPublished(ctx)
	time.Sleep(5 * time.Second)
	c.nats.Restart(victim)
	restarted := time.Since(killed)

	c.waitReceipts(ctx, func(a string) string { return runOf(a, 2).RunID })
	c.settle(ctx)
	took := time.Since(start)

	st := c.store()
	c.checkOutcomes(ctx, st, accounts, func(a string) []string { return []string{runOf(a, 1).RunID, runOf(a, 2).RunID} })
	for _, a := range accounts {
		c.checkLatestDump(ctx, st, a, runOf(a, 2).RunID)
	}
	c.checkNoErrors(c.replicas)
	checkNoConcurrentExports(t, c.replicas)
	if os.Getenv("EXPORTD_TEST_SHOW_LOGS") == "" {
		for i, d := range c.replicas {
			for _, line := range strings.Split(d.out.String(), "\n") {
				if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") || strings.Contains(line, "shared state") {
					t.Logf("replica %d: %s", i, line)
				}
			}
		}
	}
	retried, answered, failedWrites := c.stateRetries()
	lostAcks, resent := 0, 0
	for _, d := range c.replicas {
		lostAcks += strings.Count(d.out.String(), "settling event failed")
		resent += strings.Count(d.out.String(), "outcome messages sent again after a lost connection")
	}
	dumps := 0
	for _, a := range accounts {
		folders, _ := filepath.Glob(filepath.Join(c.out, a, "20*"))
		dumps += len(folders)
	}
	t.Logf("%d accounts × 2 runs in %v: %d dumps; %s killed (it led %s), a new leader of %s after %v, restarted %v after the kill; "+
		"%d state operations retried through the election (%d answered, %d given up), %d bookkeeping writes failed; "+
		"%d events published again by the test, %d acknowledgements lost (redelivered after the ack wait), "+
		"%d batches of outcomes sent again after a lost connection",
		len(accounts), took.Round(time.Millisecond), dumps, c.nats.Nodes[victim].Name, strings.Join(led, ", "), led[0],
		election.Round(time.Millisecond), restarted.Round(time.Millisecond), retried, answered, retried-answered, failedWrites,
		c.republished, lostAcks, resent)
}

// listenEveryNode subscribes to outcomes on a connection to each node, so
// that killing one loses none; duplicates are removed when counting.
func (c *jsCluster) listenEveryNode() {
	for _, nd := range c.nats.Nodes {
		nc, err := nats.Connect(nd.URL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.DontRandomize())
		if err != nil {
			c.t.Fatal(err)
		}
		c.t.Cleanup(nc.Close)
		sub, err := nc.Subscribe(job.OutcomesSubjectPrefix+">", func(m *nats.Msg) {
			var om job.OutcomeMessage
			if json.Unmarshal(m.Data, &om) == nil {
				c.mu.Lock()
				c.outcomes = append(c.outcomes, om)
				c.mu.Unlock()
			}
		})
		if err != nil {
			c.t.Fatal(err)
		}
		_ = sub.SetPendingLimits(-1, -1)
	}
}

// publishAsync queues an event with its de-duplication id; waitPublished
// re-sends those JetStream did not acknowledge, as a platform's publisher
// must while a stream elects its leader.
func (c *jsCluster) publishAsync(ev event.ModellingCompleted) {
	c.mu.Lock()
	c.pending = append(c.pending, ev)
	c.mu.Unlock()
}

func (c *jsCluster) waitPublished(ctx context.Context) {
	c.t.Helper()
	c.mu.Lock()
	evs := c.pending
	c.pending = nil
	c.mu.Unlock()
	for len(evs) > 0 {
		futures := make([]jetstream.PubAckFuture, len(evs))
		for i, ev := range evs {
			f, err := c.js.PublishAsync(event.Subject(ev.AccountID), ev.Encode(), jetstream.WithMsgID(event.MsgID(ev)))
			if err != nil {
				c.t.Fatalf("publish: %v", err)
			}
			futures[i] = f
		}
		var again []event.ModellingCompleted
		for i, f := range futures {
			select {
			case <-f.Ok():
			case <-f.Err():
				again = append(again, evs[i])
			case <-ctx.Done():
				c.t.Fatal("events not stored in time")
			}
		}
		if len(again) > 0 {
			c.republished += len(again)
			time.Sleep(500 * time.Millisecond)
		}
		evs = again
	}
}

// final returns, for each (destination, run), the final outcomes seen,
// without duplicates.
func (c *jsCluster) final() map[string][]job.OutcomeMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	out := map[string][]job.OutcomeMessage{}
	for _, o := range c.outcomes {
		if !o.Final {
			continue
		}
		k := o.Destination + "/" + o.RunID + "/" + o.Status + "/" + o.ExportTime.String()
		if seen[k] {
			continue
		}
		seen[k] = true
		out[o.Destination+"/"+o.RunID] = append(out[o.Destination+"/"+o.RunID], o)
	}
	return out
}

func (c *jsCluster) finalCount() int { return len(c.final()) }

// waitFinal waits until n (destination, run) pairs have a final outcome.
func (c *jsCluster) waitFinal(ctx context.Context, n int) {
	c.t.Helper()
	for c.finalCount() < n {
		select {
		case <-ctx.Done():
			c.t.Fatalf("only %d of %d exports done", c.finalCount(), n)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// victim is the node to kill: the leader of stream, or, when stream is
// empty, of the destinations bucket or another one whose leader does not
// lead the event stream. It returns the node and the streams it leads,
// the one chosen first.
func (c *jsCluster) victim(ctx context.Context, stream string) (int, []string) {
	c.t.Helper()
	leaderOf := func(s string) int {
		i, err := c.nats.StreamLeader(ctx, s)
		if err != nil {
			c.t.Fatal(err)
		}
		return i
	}
	buckets := []string{"destinations", "completed", "leases", "attempts", "runs", "accounts", "reexports"}
	all := []string{config.DefaultStream}
	for _, b := range buckets {
		all = append(all, "KV_"+config.DefaultKVPrefix+"_"+b)
	}
	victim := -1
	if stream != "" {
		victim = leaderOf(stream)
	} else {
		eventsLeader := leaderOf(config.DefaultStream)
		for _, s := range all[1:] {
			if l := leaderOf(s); l != eventsLeader {
				victim, stream = l, s
				break
			}
		}
		if victim < 0 {
			c.t.Skip("one node leads the event stream and every bucket")
		}
	}
	led := []string{stream}
	for _, s := range all {
		if s != stream && leaderOf(s) == victim {
			led = append(led, s)
		}
	}
	return victim, led
}

// waitReceipts waits until every account's receipt is its latest run's.
func (c *jsCluster) waitReceipts(ctx context.Context, latest func(string) string) {
	c.t.Helper()
	for {
		done := map[string]bool{}
		for k, os := range c.final() {
			for _, o := range os {
				if o.Status == job.StatusCommitted && o.RunID == latest(o.Account) {
					done[strings.SplitN(k, "/", 2)[0]] = true
				}
			}
		}
		if len(done) == len(c.accounts) {
			return
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("only %d of %d accounts got their latest run's dump", len(done), len(c.accounts))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// settle waits until the consumer has nothing pending or unacknowledged.
func (c *jsCluster) settle(ctx context.Context) {
	c.t.Helper()
	quiet := 0
	for quiet < 5 {
		info, err := c.consumerInfo(ctx)
		if err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
			quiet++
		} else {
			quiet = 0
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("events still in flight: %+v, %v", info, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *jsCluster) consumerInfo(ctx context.Context) (*jetstream.ConsumerInfo, error) {
	cons, err := c.js.Consumer(ctx, config.DefaultStream, config.DefaultConsumer)
	if err != nil {
		return nil, err
	}
	return cons.Info(ctx)
}

// checkOutcomes: every event has a final outcome, none failed, and no
// (destination, run) was committed with two export times. A missing
// outcome is told apart from a lost event by the shared state.
func (c *jsCluster) checkOutcomes(ctx context.Context, st *state.Store, accounts []string, runs func(string) []string) {
	c.t.Helper()
	final := c.final()
	for _, a := range accounts {
		for _, run := range runs(a) {
			os := final[a+"/"+run]
			if len(os) == 0 {
				rec, done, err := st.Completed(ctx, a, run)
				switch {
				case err != nil:
					c.t.Errorf("%s: run %s has no final outcome, and its record cannot be read: %v", a, run, err)
				case !done:
					c.t.Errorf("%s: run %s has no final outcome and no record: an event was lost", a, run)
				default:
					c.t.Errorf("%s: run %s was handled (recorded %+v) but its outcome never reached NATS", a, run, rec)
				}
			}
			times := map[time.Time]bool{}
			for _, o := range os {
				switch o.Status {
				case job.StatusCommitted:
					times[o.ExportTime] = true
				case job.StatusFailed:
					c.t.Errorf("%s: run %s failed: %s", a, run, o.Error)
				}
			}
			if len(times) > 1 {
				c.t.Errorf("%s: run %s was dumped %d times (%v)", a, run, len(times), times)
			}
		}
	}
}

// checkLatestDump: the account's receipt is its latest run's, as the
// shared state records; every minute folder on disk is a committed dump
// of a distinct run; the receipt names complete folders.
func (c *jsCluster) checkLatestDump(ctx context.Context, st *state.Store, account, latest string) {
	c.t.Helper()
	root := filepath.Join(c.out, account)
	ds, err := st.Destination(ctx, account)
	if err != nil {
		c.t.Fatal(err)
	}
	if ds.LastRunID != latest {
		c.t.Errorf("%s: the last dump is of %q, want %s", account, ds.LastRunID, latest)
	}
	body, err := os.ReadFile(filepath.Join(root, legacylayout.ReceiptName))
	if err != nil {
		c.t.Fatalf("%s: %v", account, err)
	}
	if string(body) != string(ds.LastReceipt) {
		c.t.Errorf("%s: the receipt on disk is not the one recorded for %s", account, latest)
	}
	rc, _, err := legacylayout.ParseReceipt(body)
	if err != nil {
		c.t.Fatalf("%s: %v", account, err)
	}
	if len(rc.Tables) != fleetTables {
		c.t.Errorf("%s: the receipt names %d tables, want %d", account, len(rc.Tables), fleetTables)
	}
	for name, tbl := range rc.Tables {
		files, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(tbl.Folder), "*.parquet.gz"))
		if len(files) != tbl.TotalFileCount || tbl.TotalFileCount != 1 {
			c.t.Errorf("%s: table %s: the receipt names %d files in %s, %d are there", account, name, tbl.TotalFileCount, tbl.Folder, len(files))
		}
	}
	// One minute folder per committed dump (by export time), each of a
	// distinct run.
	committed := map[string]string{} // minute folder → run
	for _, os := range c.final() {
		for _, o := range os {
			if o.Account != account || o.Status != job.StatusCommitted {
				continue
			}
			minute := o.ExportTime.UTC().Format("2006-01-02T15:04")
			if prev, ok := committed[minute]; ok && prev != o.RunID {
				c.t.Errorf("%s: runs %s and %s share the minute folder %s", account, prev, o.RunID, minute)
			}
			committed[minute] = o.RunID
		}
	}
	folders, _ := filepath.Glob(filepath.Join(root, "20*"))
	if len(folders) != len(committed) {
		c.t.Errorf("%s: %d minute folders on disk for %d committed dumps %v", account, len(folders), len(committed), committed)
	}
}

// stateRetries counts, in every replica's log, the state operations that
// were answered after a transient failure, those that still failed, and
// the bookkeeping writes the engine reported failed.
func (c *jsCluster) stateRetries() (retried, answered, failedWrites int) {
	for _, d := range c.replicas {
		out := d.out.String()
		answered += strings.Count(out, "shared state: answered after a transient failure")
		retried += strings.Count(out, "shared state: answered after a transient failure") + strings.Count(out, "gave up after")
		failedWrites += strings.Count(out, "recording a completed export failed") + strings.Count(out, "recording a failed attempt failed") +
			strings.Count(out, "recording a skipped export failed")
	}
	return retried, answered, failedWrites
}
