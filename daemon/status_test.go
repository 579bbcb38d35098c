package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/job"
	"github.com/exportd/exportd/internal/status"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/nats-io/nats.go"
)

// bigRows makes an export last several seconds with the sample source:
// long enough to be seen in flight and to report progress.
var bigRows = map[string]int64{
	"companies": 2000, "contacts": 20000, "events": 600000,
	"revenue": 1000, "revenue_attribution": 4000, "paid_ads": 100,
}

// fleetRig is a real NATS, a configuration with localfs destinations for
// some accounts, and the outcomes the daemons publish.
type fleetRig struct {
	t    *testing.T
	nats *testsupport.NATS
	nc   *nats.Conn
	out  string
	http string
	cfg  string

	mu       sync.Mutex
	outcomes []job.OutcomeMessage
}

// rigDest is a localfs destination of a fleetRig: its name, account and
// extra HCL attributes. A destination named "*-broken" gets a path that is
// a file, so every export to it fails, retryably, until max_deliver
// attempts are used.
type rigDest struct{ name, account, extra string }

// newFleetRig configures the destinations.
func newFleetRig(t *testing.T, rows map[string]int64, dests []rigDest) *fleetRig {
	r := &fleetRig{t: t, nats: testsupport.StartNATS(t), out: t.TempDir(), http: freePort(t)}
	r.nc, _ = r.nats.Connect(t)
	if _, err := r.nc.Subscribe(job.OutcomesSubjectPrefix+">", func(m *nats.Msg) {
		var o job.OutcomeMessage
		if json.Unmarshal(m.Data, &o) == nil {
			r.mu.Lock()
			r.outcomes = append(r.outcomes, o)
			r.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `
data_dir   = %q
plugin_dir = %q
nats { url = %q }
http { listen = %q }
jobs {
  ack_wait    = "10s"
  max_deliver = 2
  backoff     = ["1s"]
  lease_ttl   = "6s"
}
source "sample" {
  seed = 7
  rows = %s
}
parquet { target_file_size = "256KiB" }
`, t.TempDir(), testsupport.PluginDir(t, "localfs"), r.nats.URL, r.http, hclRows(rows))
	for _, d := range dests {
		path := filepath.Join(r.out, d.name)
		if strings.HasSuffix(d.name, "-broken") {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintf(&b, "destination \"localfs\" %q {\n  account = %q\n  path = %q\n  %s\n}\n", d.name, d.account, path, d.extra)
	}
	r.cfg = writeConfig(t, b.String())
	return r
}

// final waits for a destination's final outcome.
func (r *fleetRig) final(dest string, timeout time.Duration) job.OutcomeMessage {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for _, o := range r.outcomes {
			if o.Destination == dest && o.Final {
				r.mu.Unlock()
				return o
			}
		}
		r.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
	r.t.Fatalf("no final outcome for %s within %v", dest, timeout)
	return job.OutcomeMessage{}
}

// exportd runs an exportd command and returns its standard output.
func (r *fleetRig) exportd(args ...string) string {
	r.t.Helper()
	cmd := exec.Command(exportdBinary(r.t), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		r.t.Fatalf("exportd %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// getStatus reads /v1/status from the daemon's operations endpoint.
func (r *fleetRig) getStatus(query string) status.Report {
	r.t.Helper()
	resp, err := http.Get("http://" + r.http + "/v1/status" + query)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var rep status.Report
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &rep) != nil {
		r.t.Fatalf("/v1/status%s: %s %s", query, resp.Status, b)
	}
	return rep
}

func sumRows(rows map[string]int64) int64 {
	var n int64
	for _, v := range rows {
		n += v
	}
	return n
}

// TestStatus runs the real daemon and checks what exportd status and
// /v1/status say: an export in flight and the replica that holds it, the
// last dumps with their counts, a destination that failed with its
// attempts, and, with the daemon stopped, the events waiting per account
// (from the shared state alone, without the configuration).
func TestStatus(t *testing.T) {
	t.Parallel()
	r := newFleetRig(t, bigRows, []rigDest{{"acme-a", "acme", ""}, {"acme-b", "acme", ""}, {"globex-broken", "globex", ""}})
	d := startDaemon(t, r.cfg)
	d.waitLog(t, "exportd running", 60*time.Second)
	_, js := r.nats.Connect(t)
	publish(t, js, event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC()})
	publish(t, js, event.ModellingCompleted{AccountID: "globex", RunID: "run-1", CompletedAt: time.Now().UTC()})

	// In flight: the daemon's host:pid holds acme-a's lease.
	host, _ := os.Hostname()
	replica := fmt.Sprintf("%s:%d", host, d.cmd.Process.Pid)
	var seen *status.InFlight
	for deadline := time.Now().Add(time.Minute); seen == nil && time.Now().Before(deadline); {
		for _, dst := range r.getStatus("?account=acme").Destinations {
			if dst.Name == "acme-a" && dst.State == status.StateExporting {
				seen = dst.InFlight
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if seen == nil || seen.Replica != replica || !strings.HasPrefix(seen.JobID, "run-") {
		t.Fatalf("acme-a in flight: %+v, want held by %s", seen, replica)
	}
	if o := r.final("acme-a", 2*time.Minute); o.Status != job.StatusCommitted {
		t.Fatalf("acme-a: %+v", o)
	}
	r.final("acme-b", time.Minute)
	if o := r.final("globex-broken", time.Minute); o.Status != job.StatusFailed {
		t.Fatalf("globex-broken: %+v", o)
	}
	var committed job.OutcomeMessage
	r.mu.Lock()
	for _, o := range r.outcomes {
		if o.Destination == "acme-a" && o.Final {
			committed = o
		}
	}
	r.mu.Unlock()

	// The table, from the configuration.
	text := r.exportd("status", "-config", r.cfg)
	for _, want := range []string{
		"events: 0 waiting, 0 in progress",
		committed.ExportTime.UTC().Format(time.RFC3339),
		"globex-broken: last failure at",
		"attempt 2 of 2 (retryable)",
		"not a directory; given up",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("exportd status lacks %q:\n%s", want, text)
		}
	}
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		switch {
		case strings.HasPrefix(l, "acme-a "):
			want := []string{"acme-a", "acme", "ok", committed.ExportTime.UTC().Format(time.RFC3339)}
			if len(f) < 8 || strings.Join(f[:4], " ") != strings.Join(want, " ") || f[5] != "run-1" ||
				f[6] != fmt.Sprint(committed.Files) || f[7] != fmt.Sprint(sumRows(bigRows)) {
				t.Errorf("acme-a's row: %s", l)
			}
		case strings.HasPrefix(l, "globex-broken "):
			if len(f) < 3 || f[2] != "failed" {
				t.Errorf("globex-broken's row: %s", l)
			}
		}
	}

	// JSON, narrowed to an account, from the command and the endpoint.
	var rep status.Report
	if err := json.Unmarshal([]byte(r.exportd("status", "-config", r.cfg, "-account", "acme", "-json")), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Destinations) != 2 {
		t.Fatalf("-account acme: %+v", rep.Destinations)
	}
	for _, dst := range rep.Destinations {
		l := dst.LastDump
		if dst.State != status.StateOK || l == nil || l.RunID != "run-1" || l.Rows != sumRows(bigRows) || l.Files != committed.Files ||
			l.Bytes != committed.Bytes || l.Tables != 6 || dst.InFlight != nil || dst.LatestRun == nil || !dst.LatestRun.Dumped {
			t.Errorf("%s: %+v %+v", dst.Name, dst, l)
		}
	}
	g := r.getStatus("?destination=globex-broken").Destinations
	if len(g) != 1 || g[0].State != status.StateFailed || g[0].LastFailure == nil || g[0].LastFailure.Attempt != 2 ||
		g[0].LastFailure.MaxAttempts != 2 || !g[0].LastFailure.Final || g[0].LastDump != nil {
		t.Fatalf("globex-broken: %+v", g)
	}

	// Events waiting while no daemon runs, seen without the configuration.
	d.stop(t)
	for i := range 3 {
		publish(t, js, event.ModellingCompleted{AccountID: "acme", RunID: fmt.Sprintf("run-%d", i+2), CompletedAt: time.Now().UTC()})
	}
	publish(t, js, event.ModellingCompleted{AccountID: "globex", RunID: "run-2", CompletedAt: time.Now().UTC()})
	text = r.exportd("status", "-nats", r.nats.URL)
	// (The runs are recorded as latest only once a daemon handles them.)
	for _, want := range []string{"events: 4 waiting", "globex-broken: latest run run-1 completed at"} {
		if !strings.Contains(text, want) {
			t.Errorf("exportd status -nats lacks %q:\n%s", want, text)
		}
	}
	for _, l := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(l, "acme-a "), strings.HasPrefix(l, "acme-b "):
			if !strings.HasSuffix(strings.TrimSpace(l), "3 events") {
				t.Errorf("row: %s", l)
			}
		case strings.HasPrefix(l, "globex-broken "):
			if !strings.HasSuffix(strings.TrimSpace(l), "1 event") || !strings.Contains(l, " globex ") {
				t.Errorf("row: %s", l)
			}
		}
	}
	if err := exec.Command(exportdBinary(t), "status", "-nats", r.nats.URL, "-destination", "nope").Run(); err == nil {
		t.Error("exportd status -destination nope succeeded")
	}
}
