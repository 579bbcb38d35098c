package metrics

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/job"
	"github.com/exportd/exportd/internal/parquetw"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEndpoint(t *testing.T) {
	m := New()
	var ready atomic.Bool
	s, err := Listen("127.0.0.1:0", m, func() error {
		if !ready.Load() {
			return errors.New("starting")
		}
		return nil
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	base := "http://" + s.Addr()

	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz %d", code)
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "starting") {
		t.Fatalf("readyz before ready: %d %q", code, body)
	}
	ready.Store(true)
	if code, _ := get(t, base+"/readyz"); code != http.StatusOK {
		t.Fatalf("readyz when ready: %d", code)
	}

	m.ExportStarted("d")
	f := parquetw.File{Table: "events", Size: 100, Rows: 10}
	m.RowsEncoded("j", "events", 10)
	m.FileEncoded("j", f)
	m.FileDelivered("j", "d", f, 50*time.Millisecond)
	m.ExportFinished("d", job.StatusCommitted, job.Outcome{}, 2*time.Second)
	m.PluginRestarted("localfs")
	m.NATSReconnected()
	_, body := get(t, base+"/metrics")
	for _, want := range []string{
		`exportd_exports_total{destination="d",outcome="committed"} 1`,
		`exportd_exports_in_flight 0`,
		`exportd_rows_encoded_total 10`,
		`exportd_bytes_delivered_total{destination="d"} 100`,
		`exportd_files_delivered_total{destination="d"} 1`,
		`exportd_plugin_restarts_total{plugin="localfs"} 1`,
		`exportd_nats_reconnects_total 1`,
		`exportd_export_duration_seconds_count{destination="d",outcome="committed"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestHealthMetrics: the signals the alerting rules use appear on
// /metrics as the daemon feeds them.
func TestHealthMetrics(t *testing.T) {
	m := New()
	s, err := Listen("127.0.0.1:0", m, func() error { return nil }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())

	_, body := get(t, "http://"+s.Addr()+"/metrics")
	if strings.Contains(body, "exportd_spool_filesystem") {
		t.Fatal("spool gauges before WatchSpool")
	}
	m.StreamState(12, 3, 2)
	m.StreamPollFailed()
	m.Redelivered()
	t0 := time.Date(2024, 3, 14, 4, 3, 7, 500_000_000, time.UTC)
	m.ExportFinished("d", job.StatusCommitted, job.Outcome{Time: t0}, time.Second)
	m.ExportFinished("d", job.StatusFailed, job.Outcome{Time: t0.Add(time.Hour)}, time.Second)
	m.LastDump("d", t0.Add(-time.Hour)) // older: ignored
	m.Notification("ops", "dropped")
	m.WatchSpool(t.TempDir())
	_, body = get(t, "http://"+s.Addr()+"/metrics")
	for _, want := range []string{
		"exportd_stream_pending_events 12",
		"exportd_stream_ack_pending_events 3",
		"exportd_stream_redelivered_events 2",
		"exportd_stream_poll_errors_total 1",
		"exportd_redeliveries_total 1",
		`exportd_destination_last_dump_timestamp_seconds{destination="d"} 1.7103889875e+09`,
		`exportd_notifications_total{notifier="ops",result="dropped"} 1`,
		"exportd_spool_filesystem_free_bytes ",
		"exportd_spool_filesystem_size_bytes ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestNames: Names lists exactly the families /metrics shows once every
// metric has been observed, so that the monitoring checks that rely on it
// see what a scrape would.
func TestNames(t *testing.T) {
	m := New()
	f := parquetw.File{Table: "events", Size: 100, Rows: 10}
	m.ExportStarted("d")
	m.RowsEncoded("j", "events", 10)
	m.FileEncoded("j", f)
	m.FileDelivered("j", "d", f, time.Millisecond)
	m.ExportFinished("d", job.StatusCommitted, job.Outcome{Time: time.Now()}, time.Second)
	m.PluginRestarted("localfs")
	m.NATSReconnected()
	m.StreamState(1, 1, 1)
	m.StreamPollFailed()
	m.Redelivered()
	m.Notification("n", "sent")
	m.WatchSpool(t.TempDir())
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, n := range m.Names() {
		names[n] = true
	}
	gathered := map[string]bool{}
	for _, fam := range families {
		gathered[fam.GetName()] = true
		if !names[fam.GetName()] {
			t.Errorf("%s is exported but not in Names", fam.GetName())
		}
	}
	for n := range names {
		if strings.HasPrefix(n, "exportd_") && !gathered[n] {
			t.Errorf("%s is in Names but not exported", n)
		}
	}
	if !names["go_goroutines"] || !names["process_resident_memory_bytes"] {
		t.Errorf("runtime metrics missing from Names")
	}
}

func TestProfilingIsOptIn(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []EndpointOption
		want int
	}{
		{name: "default", want: http.StatusNotFound},
		{name: "with profiling", opts: []EndpointOption{WithProfiling()}, want: http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Listen("127.0.0.1:0", New(), func() error { return nil }, slog.New(slog.DiscardHandler), tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(t.Context())
			base := "http://" + s.Addr()
			code, body := get(t, base+"/debug/pprof/goroutine?debug=1")
			if code != tc.want {
				t.Fatalf("/debug/pprof/goroutine: %d, want %d", code, tc.want)
			}
			if tc.want == http.StatusOK && !strings.Contains(body, "goroutine") {
				t.Fatalf("/debug/pprof/goroutine answered %q", body)
			}
			if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
				t.Fatalf("healthz %d", code)
			}
		})
	}
}
