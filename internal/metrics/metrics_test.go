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
