// Package metrics holds exportd's Prometheus metrics and serves them, with
// liveness and readiness probes and whatever handlers the daemon adds (the
// status report), on the operations endpoint.
//
// It observes; it decides nothing.
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/exportd/exportd/internal/job"
	"github.com/exportd/exportd/internal/parquetw"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the daemon's set of metrics. It implements job.Metrics and
// job.Observer.
type Metrics struct {
	Registry *prometheus.Registry

	exports        *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	inFlight       prometheus.Gauge
	rowsEncoded    prometheus.Counter
	filesEncoded   prometheus.Counter
	bytesEncoded   prometheus.Counter
	filesDelivered *prometheus.CounterVec
	bytesDelivered *prometheus.CounterVec
	rowsDelivered  *prometheus.CounterVec
	putSeconds     *prometheus.HistogramVec
	pluginRestarts *prometheus.CounterVec
	natsReconnects prometheus.Counter
	health         health

	// collectors are every collector registered, for Names.
	collectors []prometheus.Collector
}

var (
	_ job.Metrics  = (*Metrics)(nil)
	_ job.Observer = (*Metrics)(nil)
)

// New registers every metric in a fresh registry, with the Go and process
// collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{Registry: r}
	f := func(c prometheus.Collector) prometheus.Collector {
		r.MustRegister(c)
		m.collectors = append(m.collectors, c)
		return c
	}
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.exports = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "exportd_exports_total", Help: "Exports finished, by destination and outcome (committed, skipped, failed).",
	}, []string{"destination", "outcome"})).(*prometheus.CounterVec)
	m.duration = f(prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "exportd_export_duration_seconds", Help: "Wall time of exports, by destination and outcome.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 14),
	}, []string{"destination", "outcome"})).(*prometheus.HistogramVec)
	m.inFlight = f(prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "exportd_exports_in_flight", Help: "Exports running now, counted per destination.",
	})).(prometheus.Gauge)
	m.rowsEncoded = f(prometheus.NewCounter(prometheus.CounterOpts{
		Name: "exportd_rows_encoded_total", Help: "Rows encoded into parquet (once per export, whatever the number of destinations).",
	})).(prometheus.Counter)
	m.filesEncoded = f(prometheus.NewCounter(prometheus.CounterOpts{
		Name: "exportd_files_encoded_total", Help: "Parquet files encoded.",
	})).(prometheus.Counter)
	m.bytesEncoded = f(prometheus.NewCounter(prometheus.CounterOpts{
		Name: "exportd_bytes_encoded_total", Help: "Bytes of parquet encoded.",
	})).(prometheus.Counter)
	m.filesDelivered = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "exportd_files_delivered_total", Help: "Files delivered, by destination.",
	}, []string{"destination"})).(*prometheus.CounterVec)
	m.bytesDelivered = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "exportd_bytes_delivered_total", Help: "Bytes delivered, by destination.",
	}, []string{"destination"})).(*prometheus.CounterVec)
	m.rowsDelivered = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "exportd_rows_delivered_total", Help: "Rows delivered, by destination.",
	}, []string{"destination"})).(*prometheus.CounterVec)
	m.putSeconds = f(prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "exportd_put_duration_seconds", Help: "Time to deliver one file, by destination.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
	}, []string{"destination"})).(*prometheus.HistogramVec)
	m.pluginRestarts = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "exportd_plugin_restarts_total", Help: "Crashed plugin processes restarted, by plugin.",
	}, []string{"plugin"})).(*prometheus.CounterVec)
	m.natsReconnects = f(prometheus.NewCounter(prometheus.CounterOpts{
		Name: "exportd_nats_reconnects_total", Help: "Reconnections to NATS.",
	})).(prometheus.Counter)
	m.registerHealth(f)
	return m
}

// ExportStarted implements job.Metrics.
func (m *Metrics) ExportStarted(string) { m.inFlight.Inc() }

// ExportFinished implements job.Metrics.
func (m *Metrics) ExportFinished(dest, status string, o job.Outcome, took time.Duration) {
	m.inFlight.Dec()
	m.exports.WithLabelValues(dest, status).Inc()
	m.duration.WithLabelValues(dest, status).Observe(took.Seconds())
	if status == job.StatusCommitted && !o.Time.IsZero() {
		m.LastDump(dest, o.Time)
	}
}

// TableStarted implements job.Observer.
func (m *Metrics) TableStarted(string, string) {}

// RowsEncoded implements job.Observer.
func (m *Metrics) RowsEncoded(_, _ string, n int64) { m.rowsEncoded.Add(float64(n)) }

// FileEncoded implements job.Observer.
func (m *Metrics) FileEncoded(_ string, f parquetw.File) {
	m.filesEncoded.Inc()
	m.bytesEncoded.Add(float64(f.Size))
}

// FileDelivered implements job.Observer.
func (m *Metrics) FileDelivered(_, dest string, f parquetw.File, took time.Duration) {
	m.filesDelivered.WithLabelValues(dest).Inc()
	m.bytesDelivered.WithLabelValues(dest).Add(float64(f.Size))
	m.rowsDelivered.WithLabelValues(dest).Add(float64(f.Rows))
	m.putSeconds.WithLabelValues(dest).Observe(took.Seconds())
}

// TableEncoded implements job.Observer.
func (m *Metrics) TableEncoded(string, parquetw.Summary) {}

// PluginRestarted counts a plugin restart.
func (m *Metrics) PluginRestarted(plugin string) { m.pluginRestarts.WithLabelValues(plugin).Inc() }

// NATSReconnected counts a NATS reconnection.
func (m *Metrics) NATSReconnected() { m.natsReconnects.Inc() }

// Server is the operations endpoint.
type Server struct {
	srv   *http.Server
	ln    net.Listener
	ready atomic.Pointer[func() error]
}

// EndpointOption changes what the operations endpoint serves.
type EndpointOption func(*endpointOptions)

type endpointOptions struct {
	profiling bool
	handlers  map[string]http.Handler
}

// WithProfiling serves Go's runtime profiles (CPU, heap, goroutines,
// blocking, mutexes, execution traces) under /debug/pprof/, for `go tool
// pprof http://ADDR/debug/pprof/profile?seconds=30`. They describe the
// process to whoever reaches the endpoint, so it is an operator's opt-in.
func WithProfiling() EndpointOption {
	return func(o *endpointOptions) { o.profiling = true }
}

// WithHandler also serves h for a pattern of net/http's ServeMux, such as
// "GET /v1/status".
func WithHandler(pattern string, h http.Handler) EndpointOption {
	return func(o *endpointOptions) {
		if o.handlers == nil {
			o.handlers = map[string]http.Handler{}
		}
		o.handlers[pattern] = h
	}
}

// Listen binds the operations endpoint: /metrics, /healthz (the process is
// alive), /readyz (ready reports nil) and, with WithProfiling,
// /debug/pprof/.
func Listen(addr string, m *Metrics, ready func() error, log *slog.Logger, opts ...EndpointOption) (*Server, error) {
	var o endpointOptions
	for _, opt := range opts {
		opt(&o)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln}
	s.ready.Store(&ready)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := (*s.ready.Load())(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if o.profiling {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	for pattern, h := range o.handlers {
		mux.Handle(pattern, h)
	}
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("operations endpoint stopped", "error", err)
		}
	}()
	return s, nil
}

// Addr is the address the endpoint listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the endpoint.
func (s *Server) Close(ctx context.Context) error { return s.srv.Shutdown(ctx) }
