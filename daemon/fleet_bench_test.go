package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/job"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk/legacylayout"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var (
	fleetAccounts = flag.Int("fleet-accounts", 1000, "accounts in BenchmarkFleetSmallAccounts's burst")
	fleetWorkers  = flag.Int("fleet-workers", 4, "jobs.workers of the daemon in BenchmarkFleetSmallAccounts")
	fleetSmall    = flag.Int("fleet-small-workers", 0, "jobs.small_workers of the daemon in BenchmarkFleetSmallAccounts (0: the default)")
	fleetSource   = flag.String("fleet-source", "sample", "source of BenchmarkFleetSmallAccounts: sample, or postgres (a private PostgreSQL 15 with the same six small tables)")
	fleetProfile  = flag.String("fleet-profile", "", "directory into which BenchmarkFleetSmallAccounts writes the daemon's CPU profiles of the burst (go tool pprof merges them)")
)

// fleetScale is the sample source's scale of a small account: 132 rows
// over the six tables (2, 10, 100, 3, 12 and 5), one parquet file each,
// so a dump is 7 files with its receipt.
const (
	fleetScale      = "0.01"
	fleetTables     = 6
	fleetRows       = 132
	fleetFilesTotal = fleetTables + 1
)

// BenchmarkFleetSmallAccounts measures the fixed cost of an export: a
// burst of -fleet-accounts modelling-complete events (default 1000), one
// per account, each account with a tiny dataset and one localfs
// destination (fsync off), published at once to one `exportd run` with
// four workers and an external nats-server. It waits for every account's
// committed outcome on exportd.jobs.> and receipt, and reports:
// exports/s over the burst (first publish to last outcome); p50 and p99
// latency from an event's publication to its committed outcome (published
// once the receipt is written and the state recorded); CPU ms per export
// of exportd, of the localfs plugin process and of nats-server (/proc
// utime+stime over the burst); and exportd's peak RSS (VmHWM).
//
// With -fleet-source=postgres the accounts read six tables of the same
// size from a private PostgreSQL 15 instead, and its CPU (the server and
// every backend) is reported too.
//
//	make bench-fleet                    # 1000 accounts
//	make bench-fleet FLEET_ACCOUNTS=300 # a quick run
func BenchmarkFleetSmallAccounts(b *testing.B) {
	for i := 0; i < b.N; i++ {
		r := runFleet(b, *fleetAccounts, *fleetWorkers)
		r.print(os.Stdout)
		b.ReportMetric(r.exportsPerSecond(), "exports/s")
		b.ReportMetric(r.latency(0.50).Seconds()*1e3, "p50-ms")
		b.ReportMetric(r.latency(0.99).Seconds()*1e3, "p99-ms")
		b.ReportMetric(r.cpuPerExport(r.daemon), "exportd-cpu-ms/export")
		b.ReportMetric(r.cpuPerExport(r.plugin), "plugin-cpu-ms/export")
		b.ReportMetric(r.cpuPerExport(r.nats), "nats-cpu-ms/export")
		if r.source == "postgres" {
			b.ReportMetric(r.cpuPerExport(r.sourceCPU), "postgres-cpu-ms/export")
		}
		b.ReportMetric(float64(r.daemonPeakRSS)/(1<<20), "exportd-peak-RSS-MiB")
	}
}

// fleetResult is what one burst measured.
type fleetResult struct {
	accounts, workers int
	took              time.Duration   // first publish to last outcome
	latencies         []time.Duration // sorted
	daemon, plugin    time.Duration   // CPU over the burst
	nats              time.Duration
	source            string
	sourceCPU         time.Duration // the database's, when the source has one
	daemonPeakRSS     int64
	natsPeakRSS       int64
	retries           int
}

func (r fleetResult) exportsPerSecond() float64 { return float64(r.accounts) / r.took.Seconds() }

func (r fleetResult) cpuPerExport(d time.Duration) float64 {
	return d.Seconds() * 1e3 / float64(r.accounts)
}

func (r fleetResult) latency(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := min(int(q*float64(len(r.latencies))), len(r.latencies)-1)
	return r.latencies[i]
}

func (r fleetResult) print(w *os.File) {
	small := "default"
	if *fleetSmall > 0 {
		small = fmt.Sprint(*fleetSmall)
	}
	fmt.Fprintf(w, "\nfleet burst: %d accounts × %d tables (%d rows, %d files a dump), %s source, %d workers (small: %s), localfs without fsync, external nats-server\n",
		r.accounts, fleetTables, fleetRows, fleetFilesTotal, r.source, r.workers, small)
	fmt.Fprintf(w, "  %-26s %8.1f  (%d exports in %.1f s)\n", "exports/s", r.exportsPerSecond(), r.accounts, r.took.Seconds())
	fmt.Fprintf(w, "  %-26s %8.0f ms / %.0f ms  (event published → committed outcome)\n", "latency p50 / p99", r.latency(0.5).Seconds()*1e3, r.latency(0.99).Seconds()*1e3)
	fmt.Fprintf(w, "  %-26s %8.1f\n", "CPU ms/export: exportd", r.cpuPerExport(r.daemon))
	fmt.Fprintf(w, "  %-26s %8.1f\n", "CPU ms/export: localfs", r.cpuPerExport(r.plugin))
	fmt.Fprintf(w, "  %-26s %8.1f\n", "CPU ms/export: nats-server", r.cpuPerExport(r.nats))
	if r.source == "postgres" {
		fmt.Fprintf(w, "  %-26s %8.1f\n", "CPU ms/export: postgres", r.cpuPerExport(r.sourceCPU))
	}
	fmt.Fprintf(w, "  %-26s %8.1f\n", "CPU ms/export: total", r.cpuPerExport(r.daemon+r.plugin+r.nats+r.sourceCPU))
	fmt.Fprintf(w, "  %-26s %8.1f MiB  (nats-server %.1f MiB)\n", "peak RSS exportd", float64(r.daemonPeakRSS)/(1<<20), float64(r.natsPeakRSS)/(1<<20))
	if r.retries > 0 {
		fmt.Fprintf(w, "  %-26s %8d\n", "retried exports", r.retries)
	}
	fmt.Fprintln(w)
}

// fleetConfig is the daemon's configuration: one localfs destination per
// account, named after it.
func fleetConfig(dataDir, pluginDir, natsURL, out, source string, accounts []string, workers int, pprof bool) string {
	var sb strings.Builder
	small := ""
	if *fleetSmall > 0 {
		small = fmt.Sprintf("\n  small_workers = %d", *fleetSmall)
	}
	fmt.Fprintf(&sb, `
data_dir   = %q
plugin_dir = %q
log { format = "json" }
nats { url = %q }
jobs {
  workers = %d%s
}
http {
  listen = "127.0.0.1:0"
%s}
%s
`, dataDir, pluginDir, natsURL, workers, small, pprofAttr(pprof), source)
	for _, a := range accounts {
		fmt.Fprintf(&sb, "destination \"localfs\" %q {\n  account = %q\n  path    = %q\n  fsync   = false\n}\n",
			a, a, filepath.Join(out, a))
	}
	return sb.String()
}

// runFleet runs one burst against a fresh nats-server and daemon.
func runFleet(b *testing.B, n, workers int) fleetResult {
	b.Helper()
	ns := testsupport.StartNATSProcess(b)
	nc, err := nats.Connect(ns.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}

	accounts := make([]string, n)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("acct%05d", i)
	}
	out := b.TempDir()
	source, sourcePID := fleetSourceBlock(b, *fleetSource)
	cfg := writeConfig(b, fleetConfig(b.TempDir(), testsupport.PluginDir(b, "localfs"), ns.URL, out, source, accounts, workers, *fleetProfile != ""))

	outcomes := newOutcomeLog(n)
	sub, err := nc.Subscribe(job.OutcomesSubjectPrefix+">", outcomes.record)
	if err != nil {
		b.Fatal(err)
	}
	_ = sub.SetPendingLimits(-1, -1)
	defer sub.Unsubscribe()

	d := startDaemon(b, cfg)
	d.waitLog(b, "exportd running", 5*time.Minute)
	plugins, err := testsupport.ChildPIDs(d.cmd.Process.Pid)
	if err != nil || len(plugins) != 1 {
		b.Fatalf("want one plugin process under exportd, found %v (%v)", plugins, err)
	}
	pids := []int{d.cmd.Process.Pid, plugins[0], ns.PID()}
	before := procStats(b, pids)
	sourceBefore := treeCPU(b, sourcePID)

	var profiles *fleetProfiler
	if *fleetProfile != "" {
		profiles = startFleetProfiler(b, d, *fleetProfile)
	}

	// The burst: every event at once, as a modelling platform finishing a
	// batch of small accounts would send them.
	start := time.Now()
	published := make(map[string]time.Time, n)
	for _, a := range accounts {
		ev := event.ModellingCompleted{AccountID: a, RunID: a + "-run1", CompletedAt: start.UTC()}
		published[a] = time.Now()
		if _, err := js.PublishAsync(event.Subject(a), ev.Encode(), jetstream.WithMsgID(ev.RunID)); err != nil {
			b.Fatalf("publish: %v", err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("events not acknowledged by JetStream within a minute")
	}

	timeout := 2*time.Minute + time.Duration(n)*500*time.Millisecond
	done, err := outcomes.wait(timeout)
	if err != nil {
		b.Fatalf("%v\nexportd output (tail):\n%s", err, tail(d.out.String(), 4000))
	}
	after := procStats(b, pids)
	sourceAfter := treeCPU(b, sourcePID)
	if profiles != nil {
		profiles.stop(b)
	}

	r := fleetResult{
		accounts:      n,
		workers:       workers,
		took:          done.Sub(start),
		daemon:        after[0].CPU - before[0].CPU,
		plugin:        after[1].CPU - before[1].CPU,
		nats:          after[2].CPU - before[2].CPU,
		source:        *fleetSource,
		sourceCPU:     sourceAfter - sourceBefore,
		daemonPeakRSS: after[0].PeakRSS,
		natsPeakRSS:   after[2].PeakRSS,
		retries:       outcomes.retries,
	}
	for a, t := range outcomes.committed {
		r.latencies = append(r.latencies, t.Sub(published[a]))
	}
	slices.Sort(r.latencies)
	checkFleetReceipts(b, out, accounts)
	return r
}

// fleetSourceBlock returns the source block of a small account's data, and
// the process id of its database server (0 for the sample source).
func fleetSourceBlock(b *testing.B, kind string) (string, int) {
	b.Helper()
	switch kind {
	case "sample":
		return fmt.Sprintf("source \"sample\" { scale = %s }", fleetScale), 0
	case "postgres":
		pg := testsupport.StartPostgres(b)
		db := pg.NewDatabase(b)
		pg.Exec(b, db.Name, "SET ROLE "+db.User+";"+fleetTablesSQL)
		pg.Exec(b, db.Name, "VACUUM (FREEZE, ANALYZE)")
		// Every account reads the same schema: what an export costs the
		// source besides its rows (a connection, the snapshot, describing
		// the tables) does not depend on whose tables they are. Over TCP
		// with a password, as in production.
		return fmt.Sprintf("source \"postgres\" {\n  dsn    = %q\n  schema = \"fleet\"\n}", db.DSN), pg.PID()
	}
	b.Fatalf("-fleet-source %q: want sample or postgres", kind)
	return "", 0
}

// fleetTablesSQL creates the six tables of a small account with the row
// counts of the sample source at scale 0.01.
const fleetTablesSQL = `
CREATE SCHEMA fleet;
CREATE TABLE fleet.companies (company_id text NOT NULL, name text NOT NULL, industry text, employee_count int, created_at timestamptz NOT NULL);
INSERT INTO fleet.companies SELECT 'cmp_' || g, 'Company ' || g, CASE WHEN g % 2 = 0 THEN 'software' END, g * 10, timestamptz '2024-01-01' + g * interval '1 day' FROM generate_series(1, 2) g;
CREATE TABLE fleet.contacts (contact_id text NOT NULL, company_id text NOT NULL, email text, created_at timestamptz NOT NULL);
INSERT INTO fleet.contacts SELECT 'con_' || g, 'cmp_' || (1 + g % 2), 'person' || g || '@example.com', timestamptz '2024-02-01' + g * interval '1 hour' FROM generate_series(1, 10) g;
CREATE TABLE fleet.events (event_id text NOT NULL, contact_id text, event_type text NOT NULL, occurred_at timestamptz NOT NULL, properties jsonb, value bigint);
INSERT INTO fleet.events SELECT 'evt_' || g, 'con_' || (1 + g % 10), (ARRAY['page_view','click','signup'])[1 + g % 3], timestamptz '2024-03-01' + g * interval '1 minute', jsonb_build_object('n', g), g * 7 FROM generate_series(1, 100) g;
CREATE TABLE fleet.revenue (deal_id text NOT NULL, company_id text NOT NULL, amount numeric(18,2) NOT NULL, closed_at date);
INSERT INTO fleet.revenue SELECT 'rev_' || g, 'cmp_' || (1 + g % 2), g * 1000.25, date '2024-04-01' + g FROM generate_series(1, 3) g;
CREATE TABLE fleet.revenue_attribution (deal_id text NOT NULL, touch_id text NOT NULL, channel text, weight double precision);
INSERT INTO fleet.revenue_attribution SELECT 'rev_' || (1 + g % 3), 'evt_' || g, (ARRAY['email','ads','organic'])[1 + g % 3], 0.25 FROM generate_series(1, 12) g;
CREATE TABLE fleet.paid_ads (campaign_id text NOT NULL, day date NOT NULL, clicks int, cost numeric(12,2), tags text[]);
INSERT INTO fleet.paid_ads SELECT 'ads_' || (g % 2), date '2024-05-01' + g, g * 3, g * 1.5, ARRAY['a', 'b'] FROM generate_series(1, 5) g;
`

func treeCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	if pid == 0 {
		return 0
	}
	t, err := testsupport.TreeCPU(pid)
	if err != nil {
		b.Fatalf("process %d: %v", pid, err)
	}
	return t
}

func pprofAttr(on bool) string {
	if on {
		return "  pprof  = true\n"
	}
	return ""
}

func procStats(b *testing.B, pids []int) []testsupport.ProcStat {
	b.Helper()
	stats := make([]testsupport.ProcStat, len(pids))
	for i, pid := range pids {
		s, err := testsupport.ReadProcStat(pid)
		if err != nil {
			b.Fatalf("process %d: %v", pid, err)
		}
		stats[i] = s
	}
	return stats
}

// checkFleetReceipts checks that every account has a receipt naming its
// six tables, one file each.
func checkFleetReceipts(b *testing.B, out string, accounts []string) {
	b.Helper()
	for _, a := range accounts {
		body, err := os.ReadFile(filepath.Join(out, a, legacylayout.ReceiptName))
		if err != nil {
			b.Fatalf("account %s: %v", a, err)
		}
		rc, _, err := legacylayout.ParseReceipt(body)
		if err != nil {
			b.Fatalf("account %s: %v", a, err)
		}
		if len(rc.Tables) != fleetTables {
			b.Fatalf("account %s: receipt names %d tables, want %d", a, len(rc.Tables), fleetTables)
		}
		for name, t := range rc.Tables {
			if t.TotalFileCount != 1 {
				b.Fatalf("account %s: table %s has %d files, want 1", a, name, t.TotalFileCount)
			}
		}
	}
}

// outcomeLog records when each account's committed outcome arrived.
type outcomeLog struct {
	want int

	mu        sync.Mutex
	committed map[string]time.Time
	last      time.Time
	retries   int
	failure   error
	all       chan struct{}
}

func newOutcomeLog(want int) *outcomeLog {
	return &outcomeLog{want: want, committed: make(map[string]time.Time, want), all: make(chan struct{})}
}

func (o *outcomeLog) record(m *nats.Msg) {
	now := time.Now()
	var om job.OutcomeMessage
	err := json.Unmarshal(m.Data, &om)
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case err != nil:
		o.fail(fmt.Errorf("outcome on %s: %w", m.Subject, err))
	case om.Status == job.StatusRetrying:
		o.retries++
	case om.Status != job.StatusCommitted:
		o.fail(fmt.Errorf("account %s: export %s: %s", om.Account, om.Status, om.Error))
	case o.committed[om.Account] != (time.Time{}):
		// Announced again by a redelivery.
	case om.Files != fleetTables || om.Rows != fleetRows:
		o.fail(fmt.Errorf("account %s: %d files and %d rows, want %d and %d", om.Account, om.Files, om.Rows, fleetTables, fleetRows))
	default:
		o.committed[om.Account] = now
		o.last = now
		if len(o.committed) == o.want {
			close(o.all)
		}
	}
}

// fail keeps the first failure and stops the wait. o.mu is held.
func (o *outcomeLog) fail(err error) {
	if o.failure == nil {
		o.failure = err
		if len(o.committed) < o.want {
			close(o.all)
		}
	}
}

// wait returns the arrival of the last committed outcome once every
// account has one.
func (o *outcomeLog) wait(timeout time.Duration) (time.Time, error) {
	select {
	case <-o.all:
	case <-time.After(timeout):
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failure != nil {
		return time.Time{}, o.failure
	}
	if len(o.committed) < o.want {
		return time.Time{}, fmt.Errorf("%d of %d accounts committed within %v", len(o.committed), o.want, timeout)
	}
	return o.last, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// fleetProfiler takes the daemon's CPU profile in back-to-back windows
// of two seconds over its profiling endpoint until stopped, each window
// into a file of its own; `go tool pprof -top daemon-cpu-*.pb.gz` merges
// them.
type fleetProfiler struct {
	stopped chan struct{}
	done    chan error
}

func startFleetProfiler(b *testing.B, d *daemon, dir string) *fleetProfiler {
	b.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	addr := opsAddr(b, d)
	p := &fleetProfiler{stopped: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		var err error
		for i := 0; err == nil; i++ {
			select {
			case <-p.stopped:
				p.done <- nil
				return
			default:
			}
			err = fetchProfile(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=2", addr),
				filepath.Join(dir, fmt.Sprintf("daemon-cpu-%03d.pb.gz", i)))
		}
		p.done <- err
	}()
	return p
}

func (p *fleetProfiler) stop(b *testing.B) {
	b.Helper()
	close(p.stopped)
	if err := <-p.done; err != nil {
		b.Fatalf("profile: %v", err)
	}
}

func fetchProfile(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %s: %s", url, resp.Status, msg)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// opsAddr finds the operations endpoint's address in the daemon's log.
func opsAddr(b *testing.B, d *daemon) string {
	b.Helper()
	for _, line := range strings.Split(d.out.String(), "\n") {
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "operations endpoint listening" {
			return rec.Addr
		}
	}
	b.Fatal("the daemon did not log its operations endpoint")
	return ""
}
