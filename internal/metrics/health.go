package metrics

import (
	"regexp"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/exportd/exportd/internal/notify"
	"github.com/prometheus/client_golang/prometheus"
)

// The signals the alerting rules in configs/monitoring are built on.
//
// Label cardinality: only the last-dump gauge is per destination (one
// series per destination a daemon has committed to, as the export
// counters already are); everything about the event stream is one series
// per daemon, notifications are per notifier (a handful), and the spool
// is one filesystem.
type health struct {
	streamPending     prometheus.Gauge
	streamAckPending  prometheus.Gauge
	streamRedelivered prometheus.Gauge
	streamPollErrors  prometheus.Counter
	redeliveries      prometheus.Counter
	lastDump          *prometheus.GaugeVec
	lastDumpMu        sync.Mutex
	lastDumpSeen      map[string]float64
	notifications     *prometheus.CounterVec
	spool             *spoolCollector
}

var _ notify.Metrics = (*Metrics)(nil)

func (m *Metrics) registerHealth(f func(prometheus.Collector) prometheus.Collector) {
	h := &m.health
	h.streamPending = f(prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "exportd_stream_pending_events", Help: "Events and queued re-exports in the stream that the consumer has not delivered yet (consumer num_pending).",
	})).(prometheus.Gauge)
	h.streamAckPending = f(prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "exportd_stream_ack_pending_events", Help: "Events delivered to a daemon and not yet settled (consumer num_ack_pending).",
	})).(prometheus.Gauge)
	h.streamRedelivered = f(prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "exportd_stream_redelivered_events", Help: "Events delivered more than once and not yet settled (consumer num_redelivered).",
	})).(prometheus.Gauge)
	h.streamPollErrors = f(prometheus.NewCounter(prometheus.CounterOpts{
		Name: "exportd_stream_poll_errors_total", Help: "Failed reads of the consumer's state; the stream gauges keep their last values meanwhile.",
	})).(prometheus.Counter)
	h.redeliveries = f(prometheus.NewCounter(prometheus.CounterOpts{
		Name: "exportd_redeliveries_total", Help: "Deliveries this daemon handled that were not the event's first (a retry, or another daemon's crash or timeout).",
	})).(prometheus.Counter)
	h.lastDump = f(prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "exportd_destination_last_dump_timestamp_seconds", Help: "Export time (Unix seconds) of the destination's last committed dump, as this daemon knows it; take the max over daemons.",
	}, []string{"destination"})).(*prometheus.GaugeVec)
	h.notifications = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "exportd_notifications_total", Help: "Notifications by notifier and result (sent, failed after retries or refused, dropped because a queue was full or the daemon stopped).",
	}, []string{"notifier", "result"})).(*prometheus.CounterVec)
	h.spool = &spoolCollector{
		free: prometheus.NewDesc("exportd_spool_filesystem_free_bytes", "Bytes free for the daemon on the filesystem of its spool (the data directory).", nil, nil),
		size: prometheus.NewDesc("exportd_spool_filesystem_size_bytes", "Size in bytes of the filesystem of the daemon's spool (the data directory).", nil, nil),
	}
	f(h.spool)
}

// StreamState sets the event stream gauges from the consumer's state.
func (m *Metrics) StreamState(pending, ackPending, redelivered uint64) {
	m.health.streamPending.Set(float64(pending))
	m.health.streamAckPending.Set(float64(ackPending))
	m.health.streamRedelivered.Set(float64(redelivered))
}

// StreamPollFailed counts a failed read of the consumer's state.
func (m *Metrics) StreamPollFailed() { m.health.streamPollErrors.Inc() }

// Redelivered counts a delivery that was not an event's first.
func (m *Metrics) Redelivered() { m.health.redeliveries.Inc() }

// LastDump records the export time of a destination's committed dump; an
// older time than the one recorded is ignored.
func (m *Metrics) LastDump(destination string, t time.Time) {
	h := &m.health
	v := float64(t.UnixMilli()) / 1000
	h.lastDumpMu.Lock()
	defer h.lastDumpMu.Unlock()
	if v <= h.lastDumpSeen[destination] {
		return
	}
	if h.lastDumpSeen == nil {
		h.lastDumpSeen = map[string]float64{}
	}
	h.lastDumpSeen[destination] = v
	h.lastDump.WithLabelValues(destination).Set(v)
}

// Notification implements notify.Metrics.
func (m *Metrics) Notification(notifier, result string) {
	m.health.notifications.WithLabelValues(notifier, result).Inc()
}

// WatchSpool makes the spool filesystem gauges report the filesystem
// holding dir. Until it is called they report nothing.
func (m *Metrics) WatchSpool(dir string) { m.health.spool.dir.Store(&dir) }

// Names lists the names of every metric the daemon exports, observed yet
// or not; histograms are listed by their base name.
func (m *Metrics) Names() []string {
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range m.collectors {
			c.Describe(ch)
		}
		close(ch)
	}()
	seen := map[string]bool{}
	for d := range ch {
		if s := fqName.FindStringSubmatch(d.String()); s != nil {
			seen[s[1]] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var fqName = regexp.MustCompile(`^Desc\{fqName: "([^"]+)"`)

// spoolCollector reads the spool filesystem's space at each scrape.
type spoolCollector struct {
	dir        atomic.Pointer[string]
	free, size *prometheus.Desc
}

func (s *spoolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.free
	ch <- s.size
}

func (s *spoolCollector) Collect(ch chan<- prometheus.Metric) {
	dir := s.dir.Load()
	if dir == nil || *dir == "" {
		return
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(*dir, &st); err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(s.free, prometheus.GaugeValue, float64(st.Bavail)*float64(st.Bsize))
	ch <- prometheus.MustNewConstMetric(s.size, prometheus.GaugeValue, float64(st.Blocks)*float64(st.Bsize))
}
