package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/job"
	"github.com/exportd/exportd/internal/state"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// cluster is a NATS server, the replicas' configuration and what the test
// observes: outcomes, and the shared state.
type cluster struct {
	t         *testing.T
	nats      *testsupport.NATS
	nc        *nats.Conn
	js        jetstream.JetStream
	out       string
	accounts  []string
	rows      map[string]int64
	grace     string // jobs.grace_period of replicas started from now on; empty: the default
	retention string // nats.retention; empty: the default
	// Settings of the jobs block of replicas started from now on; zero
	// values keep the cluster's defaults.
	maxDeliver int
	leaseTTL   string

	mu       sync.Mutex
	outcomes []job.OutcomeMessage
	replicas []*daemon
}

func newCluster(t *testing.T, accounts []string, rows map[string]int64) *cluster {
	c := &cluster{t: t, nats: testsupport.StartNATS(t), out: t.TempDir(), accounts: accounts, rows: rows}
	c.nc, c.js = c.nats.Connect(t)
	if _, err := c.nc.Subscribe(job.OutcomesSubjectPrefix+">", func(m *nats.Msg) {
		var o job.OutcomeMessage
		if json.Unmarshal(m.Data, &o) == nil {
			c.mu.Lock()
			c.outcomes = append(c.outcomes, o)
			c.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// config is a replica's configuration: its own data directory, the shared
// NATS, one localfs destination per account.
func (c *cluster) config() string {
	var b strings.Builder
	retention := ""
	if c.retention != "" {
		retention = fmt.Sprintf("retention = %q", c.retention)
	}
	grace := ""
	if c.grace != "" {
		grace = fmt.Sprintf("grace_period = %q", c.grace)
	}
	maxDeliver, leaseTTL := c.maxDeliver, c.leaseTTL
	if maxDeliver == 0 {
		maxDeliver = 30
	}
	if leaseTTL == "" {
		leaseTTL = "5s"
	}
	fmt.Fprintf(&b, `
data_dir   = %q
plugin_dir = %q
nats {
  url = %q
  %s
}
http { listen = "" }
jobs {
  ack_wait    = "5s"
  max_deliver = %d
  backoff     = ["1s"]
  lease_ttl   = %q
  %s
}
source "sample" {
  seed = 7
  rows = %s
}
parquet { target_file_size = "64KiB" }
`, c.t.TempDir(), testsupport.PluginDir(c.t, "localfs"), c.nats.URL, retention, maxDeliver, leaseTTL, grace, hclRows(c.rows))
	for _, a := range c.accounts {
		fmt.Fprintf(&b, "destination \"localfs\" %q {\n  account = %q\n  path = %q\n  folder = \"dumps\"\n}\n", a+"-local", a, filepath.Join(c.out, a))
	}
	return writeConfig(c.t, b.String())
}

// start runs a replica on its own configuration and waits until it consumes.
func (c *cluster) start(env ...string) *daemon {
	d := startDaemon(c.t, c.config(), env...)
	d.waitLog(c.t, "exportd running", 60*time.Second)
	c.mu.Lock()
	c.replicas = append(c.replicas, d)
	c.mu.Unlock()
	return d
}

func (c *cluster) publish(ev event.ModellingCompleted) { publish(c.t, c.js, ev) }

// store opens the shared state the replicas keep.
func (c *cluster) store() *state.Store {
	s, err := state.Open(context.Background(), c.js, state.Options{Prefix: config.DefaultKVPrefix, LeaseTTL: 5 * time.Second})
	if err != nil {
		c.t.Fatal(err)
	}
	return s
}

// settle waits until every event has been handled: nothing pending or
// unacknowledged in the consumer, for a while.
func (c *cluster) settle(timeout time.Duration) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	quiet := 0
	for quiet < 5 {
		cons, err := c.js.Consumer(ctx, config.DefaultStream, config.DefaultConsumer)
		if err == nil {
			info, err := cons.Info(ctx)
			if err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0 {
				quiet++
			} else {
				quiet = 0
			}
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("events still in flight after %v", timeout)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// receipt reads an account's receipt; nil if there is none.
func (c *cluster) receipt(account string) []byte {
	b, err := os.ReadFile(filepath.Join(c.out, account, "dumps", "receipt.json"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

func (c *cluster) committed() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := map[string]int{}
	for _, o := range c.outcomes {
		if o.Status == job.StatusCommitted {
			n[o.Destination+"/"+o.RunID]++
		}
	}
	return n
}

// logLine matches the engine's start and end lines of an export.
var logLine = regexp.MustCompile(`^time=(\S+) level=\w+ msg="export (started|committed|failed)" job=(\S+) .*destination=(\S+)`)

// checkNoConcurrentExports reads every replica's log and fails if two
// exports of one destination ever overlapped in time.
func (c *cluster) checkNoConcurrentExports() {
	c.t.Helper()
	checkNoConcurrentExports(c.t, c.replicas)
}

// checkNoConcurrentExports reads the logs of replicas and fails if two
// exports of one destination ever overlapped in time.
func checkNoConcurrentExports(t *testing.T, replicas []*daemon) {
	t.Helper()
	type mark struct {
		at    time.Time
		start bool
		job   string
	}
	marks := map[string][]mark{}
	for _, d := range replicas {
		for _, line := range strings.Split(d.out.String(), "\n") {
			m := logLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			at, err := time.Parse(time.RFC3339Nano, m[1])
			if err != nil {
				t.Fatal(err)
			}
			marks[m[4]] = append(marks[m[4]], mark{at: at, start: m[2] == "started", job: m[3]})
		}
	}
	for dest, ms := range marks {
		sort.SliceStable(ms, func(i, j int) bool {
			if !ms[i].at.Equal(ms[j].at) {
				return ms[i].at.Before(ms[j].at)
			}
			return !ms[i].start && ms[j].start // an end at the same instant comes first
		})
		open := ""
		for _, m := range ms {
			switch {
			case m.start && open != "":
				t.Fatalf("%s: job %s started at %v while job %s was exporting", dest, m.job, m.at, open)
			case m.start:
				open = m.job
			case m.job == open:
				open = ""
			}
		}
	}
}

// TestReplicas: two and three replicas on one NATS share 20 events for 5
// accounts. Every destination ends with exactly its account's latest dump,
// no destination is ever exported to by two jobs at once, and no run is
// dumped twice to a destination.
func TestReplicas(t *testing.T) {
	t.Parallel()
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d replicas", n), func(t *testing.T) {
			t.Parallel()
			accounts := []string{"a1", "a2", "a3", "a4", "a5"}
			c := newCluster(t, accounts, sampleRows)
			for range n {
				c.start()
			}
			base := time.Now().UTC().Add(-time.Hour)
			for run := 1; run <= 4; run++ {
				for i, a := range accounts {
					c.publish(event.ModellingCompleted{AccountID: a, RunID: fmt.Sprintf("%s-run-%d", a, run),
						CompletedAt: base.Add(time.Duration(run*10+i) * time.Second)})
				}
			}
			c.settle(3 * time.Minute)

			st := c.store()
			for _, a := range accounts {
				ds, err := st.Destination(context.Background(), a+"-local")
				if err != nil {
					t.Fatal(err)
				}
				if want := a + "-run-4"; ds.LastRunID != want {
					t.Errorf("%s: last dump is of %q, want %s", a, ds.LastRunID, want)
				}
				rc := c.receipt(a)
				if rc == nil {
					t.Fatalf("%s: no receipt", a)
				}
				if string(rc) != string(ds.LastReceipt) {
					t.Errorf("%s: the receipt on disk is not the last one recorded", a)
				}
				checkDump(t, filepath.Join(c.out, a), "dumps", a, c.rows, rc, false)
				// One minute folder per committed dump: nothing dumped twice,
				// nothing half-written left behind.
				folders, _ := filepath.Glob(filepath.Join(c.out, a, "dumps", "20*"))
				dumps := 0
				for k, v := range c.committed() {
					if strings.HasPrefix(k, a+"-local/") {
						dumps += v
					}
				}
				if len(folders) != dumps {
					t.Errorf("%s: %d dump folders for %d committed dumps", a, len(folders), dumps)
				}
			}
			for k, v := range c.committed() {
				if v > 1 {
					t.Errorf("%s was dumped %d times", k, v)
				}
			}
			c.checkNoConcurrentExports()
		})
	}
}

// waitExit waits for a daemon that is expected to die.
func (d *daemon) waitExit(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case err := <-d.done:
		d.done <- err // let stop see it too
	case <-time.After(timeout):
		t.Fatalf("exportd did not exit within %v; output:\n%s", timeout, d.out)
	}
}

// TestCrashRecovery kills a daemon with SIGKILL at several points of an
// export. The event is redelivered and the export completes, after a
// restart or on another replica, and the receipt names a complete dump.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		point   string
		restart bool // same data directory again, or another replica
	}{
		{job.CrashWhileEncoding, true},
		{job.CrashWhileDelivering, false},
		{job.CrashBeforeCommit, true},
	} {
		t.Run(tc.point, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, []string{"acme"}, sampleRows)
			cfg := c.config()
			victim := startDaemon(t, cfg, "EXPORTD_TEST_CRASH="+tc.point)
			victim.waitLog(t, "exportd running", 60*time.Second)
			orphan := pluginPID(t, victim.cmd.Process.Pid)
			c.publish(event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC()})
			victim.waitExit(t, time.Minute)
			if ws, ok := victim.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("exportd ended with %v, want SIGKILL at %s; output:\n%s", victim.cmd.ProcessState, tc.point, victim.out)
			}
			// The killed daemon's plugin notices and exits: no orphans.
			waitGone(t, orphan, 30*time.Second)
			if c.receipt("acme") != nil {
				t.Fatal("a receipt was written by the crashed export")
			}

			var heir *daemon
			if tc.restart {
				heir = startDaemon(t, cfg)
			} else {
				heir = c.start()
			}
			c.replicas = append(c.replicas, victim, heir)
			waitFile(t, filepath.Join(c.out, "acme", "dumps", "receipt.json"), 2*time.Minute)
			c.settle(time.Minute)
			checkDump(t, filepath.Join(c.out, "acme"), "dumps", "acme", c.rows, c.receipt("acme"), false)
			if n := c.committed()["acme-local/run-1"]; n != 1 {
				t.Fatalf("run-1 committed %d times", n)
			}
		})
	}
}

// TestNATSRestartDuringExport restarts the NATS server while an export
// runs, for less than the destination lease's TTL: the export is not
// cancelled, it completes on its first attempt.
func TestNATSRestartDuringExport(t *testing.T) {
	t.Parallel()
	c := newCluster(t, []string{"acme"}, longRows)
	c.leaseTTL = "10s"
	d := c.start()
	c.publish(event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC()})
	c.waitDelivering("acme")
	c.nats.Restart(t, 4*time.Second)
	waitFile(t, filepath.Join(c.out, "acme", "dumps", "receipt.json"), 2*time.Minute)
	c.settle(2 * time.Minute)
	checkDump(t, filepath.Join(c.out, "acme"), "dumps", "acme", c.rows, c.receipt("acme"), false)
	ds, err := c.store().Destination(context.Background(), "acme-local")
	if err != nil || ds.LastRunID != "run-1" {
		t.Fatalf("state after the restart: %+v, %v", ds, err)
	}
	if strings.Contains(d.out.String(), "lost the destination lease") {
		t.Fatalf("the export was cancelled for a lost lease; output:\n%s", d.out)
	}
	if folders, _ := filepath.Glob(filepath.Join(c.out, "acme", "dumps", "20*")); len(folders) != 1 {
		t.Fatalf("%d dump folders: the export did not complete on its first attempt", len(folders))
	}
	if os.Getenv("EXPORTD_TEST_SHOW_LOGS") != "" {
		t.Logf("exportd output:\n%s", d.out)
	}
}

// longRows makes an export last a few seconds, long enough to disturb it
// half-way.
var longRows = map[string]int64{
	"companies": 400, "contacts": 3000, "events": 500_000,
	"revenue": 150, "revenue_attribution": 600, "paid_ads": 0,
}

// waitDelivering waits until an account's export has delivered a data
// file and has not committed yet.
func (c *cluster) waitDelivering(account string) {
	c.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(c.out, account, "dumps", "*", "events", "*.parquet.gz"))
		if len(files) > 0 {
			if c.receipt(account) != nil {
				c.t.Fatal("the export finished before the test could disturb it; make it longer")
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatal("no file was delivered within a minute")
}

// pluginPID finds the daemon's localfs plugin process.
func pluginPID(t *testing.T, parent int) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		end := strings.LastIndexByte(s, ')')
		if end < 0 || !strings.Contains(s[:end], "exportd-plugin") {
			continue
		}
		var pid, ppid int
		var state string
		fmt.Sscanf(e.Name(), "%d", &pid)
		fmt.Sscanf(s[end+2:], "%s %d", &state, &ppid)
		if ppid == parent {
			return pid
		}
	}
	t.Fatal("no plugin process found")
	return 0
}

// waitGone waits until process pid has exited (or is a zombie).
func waitGone(t *testing.T, pid int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		s := string(stat)
		if i := strings.LastIndexByte(s, ')'); i > 0 && len(s) > i+2 && s[i+2] == 'Z' {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("process %d is still running %v after its daemon died", pid, timeout)
}

// TestPluginKilledDuringExport kills the destination plugin while files
// are being delivered: the export fails retryably, the plugin is
// restarted, and the retried export completes.
func TestPluginKilledDuringExport(t *testing.T) {
	t.Parallel()
	c := newCluster(t, []string{"acme"}, longRows)
	d := c.start()
	c.publish(event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC()})
	c.waitDelivering("acme")
	if err := syscall.Kill(pluginPID(t, d.cmd.Process.Pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.waitLog(t, "plugin restarted", time.Minute)
	waitFile(t, filepath.Join(c.out, "acme", "dumps", "receipt.json"), 2*time.Minute)
	c.settle(time.Minute)
	checkDump(t, filepath.Join(c.out, "acme"), "dumps", "acme", c.rows, c.receipt("acme"), false)
}
