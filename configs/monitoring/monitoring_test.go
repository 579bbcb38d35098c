// Package monitoring_test checks the Grafana dashboard and the Prometheus
// alerting rules in this folder: promtool accepts the rules and passes
// their unit tests, every dashboard query parses, and every metric they
// use is one that exportd exports.
package monitoring_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/metrics"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/internal/trigger"
)

const (
	rulesFile     = "exportd.rules.yml"
	rulesTestFile = "exportd.rules.test.yml"
	dashboardFile = "exportd-dashboard.json"
)

// promtool returns the path of promtool. Locally a missing promtool
// skips the test; in CI (CI set) it fails it, so that the checks cannot
// silently stop running: `make tools` installs Debian's prometheus package.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("promtool is not installed; in CI the rule checks must run: `make tools` installs Debian's prometheus package")
	}
	t.Skip("promtool is not installed; `make tools` installs it (Debian's prometheus package)")
	return ""
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

func TestRulesCheck(t *testing.T) { runPromtool(t, "check", "rules", rulesFile) }

func TestRulesUnitTests(t *testing.T) { runPromtool(t, "test", "rules", rulesTestFile) }

// TestDashboardQueriesParse hands every dashboard query to promtool as a
// recording rule, with Grafana's variables replaced, so that a query
// Prometheus cannot parse fails here rather than on a screen.
func TestDashboardQueriesParse(t *testing.T) {
	exprs := dashboardExprs(t)
	if len(exprs) < 20 {
		t.Fatalf("only %d queries in the dashboard", len(exprs))
	}
	vars := strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*", "$destination", ".*", "$job", ".*")
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range exprs {
		q, _ := json.Marshal(vars.Replace(e)) // a JSON string is a YAML string
		fmt.Fprintf(&b, "      - record: dashboard:query_%d\n        expr: %s\n", i, q)
	}
	p := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, "check", "rules", p)
}

// dashboardExprs returns every PromQL text in the dashboard: panel
// queries and template variable queries.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s is not JSON: %v", dashboardFile, err)
	}
	var out []string
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				walk(c, k)
			}
		case []any:
			for _, c := range v {
				walk(c, key)
			}
		case string:
			if key == "expr" {
				out = append(out, v)
			}
			if key == "definition" { // label_values(metric, label)
				if m := labelValues.FindStringSubmatch(v); m != nil {
					out = append(out, m[1])
				}
			}
		}
	}
	walk(d, "")
	sort.Strings(out)
	return out
}

var (
	labelValues = regexp.MustCompile(`^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*),`)
	metricName  = regexp.MustCompile(`\b((?:exportd|process|go)_[a-zA-Z0-9_]+)\b`)
)

// usedMetrics returns the metric names the rules and the dashboard use.
func usedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string]string{rulesFile: string(rules), dashboardFile: strings.Join(dashboardExprs(t), "\n")}
	for file, text := range sources {
		for _, m := range metricName.FindAllStringSubmatch(text, -1) {
			used[m[1]] = append(used[m[1]], file)
		}
	}
	if len(used) < 15 {
		t.Fatalf("found only %d metric names in the rules and the dashboard: %v", len(used), used)
	}
	return used
}

// TestMetricsExist: every metric the rules and the dashboard use is one
// that a real daemon serves on /metrics after an export, or one that it
// declares and serves once the event it counts happens (plugin restarts,
// notifications). Histogram series are matched by their base name.
func TestMetricsExist(t *testing.T) {
	declared := map[string]bool{}
	for _, n := range metrics.New().Names() {
		declared[n] = true
	}
	scraped := scrapeDaemon(t)
	for _, must := range []string{
		"exportd_exports_total", "exportd_destination_last_dump_timestamp_seconds",
		"exportd_stream_pending_events", "exportd_stream_redelivered_events",
		"exportd_spool_filesystem_free_bytes", "exportd_spool_filesystem_size_bytes",
		"exportd_export_duration_seconds", "process_resident_memory_bytes",
	} {
		if !scraped[must] {
			t.Errorf("the daemon's /metrics lacks %s after an export", must)
		}
	}
	for name, files := range usedMetrics(t) {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && (declared[b] || scraped[b]) {
				base = b
			}
		}
		if !scraped[base] && !declared[base] {
			t.Errorf("%s (used in %s) is not a metric exportd exports", name, strings.Join(files, ", "))
		}
		if scraped[base] && !declared[base] {
			t.Errorf("%s is served but missing from metrics.Names", base)
		}
	}
}

// scrapeDaemon runs the real exportd with the localfs plugin, has it
// export once, and returns the metric families its /metrics serves.
func scrapeDaemon(t *testing.T) map[string]bool {
	t.Helper()
	ns := testsupport.StartNATS(t)
	_, js := ns.Connect(t)
	out := t.TempDir()
	addr := freeAddr(t)
	cfgPath := filepath.Join(t.TempDir(), "exportd.hcl")
	cfg := fmt.Sprintf(`
data_dir   = %q
plugin_dir = %q
nats { url = %q }
http { listen = %q }
source "sample" { scale = 1 }
parquet { target_file_size = "64KiB" }
destination "localfs" "acme-local" {
  account = "acme"
  path    = %q
}
`, t.TempDir(), testsupport.PluginDir(t, "localfs"), ns.URL, addr, out)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "exportd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(testsupport.Binary(t, "./daemon", "exportd"), "run", "-config", cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("exportd log:\n%s", b)
		}
	})

	base := "http://" + addr
	waitFor(t, "the daemon to be ready", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := trigger.PublishEvent(ctx, js, event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the receipt", func() bool {
		_, err := os.Stat(filepath.Join(out, "receipt.json"))
		return err == nil
	})

	families := map[string]bool{}
	waitFor(t, "the stream gauges and the dump's metrics", func() bool {
		families = scrape(t, base+"/metrics")
		return families["exportd_stream_pending_events"] && families["exportd_destination_last_dump_timestamp_seconds"]
	})
	return families
}

// scrape returns the metric families a /metrics page declares.
func scrape(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	families := map[string]bool{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			families[f[2]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return families
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
