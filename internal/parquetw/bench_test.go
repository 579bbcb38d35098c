package parquetw

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/schema"
	"github.com/parquet-go/parquet-go"
)

// eventsTable is shaped like the platform's events table: string ids,
// low-cardinality strings, timestamps, a date, nullable strings, a JSON
// properties column and an int64.
var eventsTable = schema.Table{Name: "events", Columns: []schema.Column{
	{Name: "event_id", Kind: schema.String},
	{Name: "account_id", Kind: schema.String, LowCardinality: true},
	{Name: "user_id", Kind: schema.String},
	{Name: "session_id", Kind: schema.String, Nullable: true},
	{Name: "event_type", Kind: schema.String, LowCardinality: true},
	{Name: "source", Kind: schema.String, LowCardinality: true},
	{Name: "occurred_at", Kind: schema.Timestamp, UTC: true},
	{Name: "received_at", Kind: schema.Timestamp, UTC: true},
	{Name: "event_date", Kind: schema.Date},
	{Name: "page_url", Kind: schema.String, Nullable: true},
	{Name: "referrer", Kind: schema.String, Nullable: true},
	{Name: "properties", Kind: schema.JSON},
	{Name: "value", Kind: schema.Int64},
}}

// event is one generated events row. The parquet tags let the baseline
// benchmark write the same rows with parquet-go's GenericWriter.
type event struct {
	EventID    string  `parquet:"event_id"`
	AccountID  string  `parquet:"account_id,dict"`
	UserID     string  `parquet:"user_id"`
	SessionID  *string `parquet:"session_id,optional"`
	EventType  string  `parquet:"event_type,dict"`
	Source     string  `parquet:"source,dict"`
	OccurredAt int64   `parquet:"occurred_at,timestamp(microsecond)"`
	ReceivedAt int64   `parquet:"received_at,timestamp(microsecond)"`
	EventDate  int32   `parquet:"event_date,date"`
	PageURL    *string `parquet:"page_url,optional"`
	Referrer   *string `parquet:"referrer,optional"`
	Properties string  `parquet:"properties,json"`
	Value      int64   `parquet:"value"`
}

// eventRows is a pool of generated rows the benchmarks cycle through, big
// enough that gzip's 32 KiB window never sees a repeat.
var eventRows = func() []event {
	rng := rand.New(rand.NewPCG(42, 42))
	types := []string{"page_view", "click", "signup", "purchase", "add_to_cart", "search", "logout", "form_submit"}
	sources := []string{"web", "ios", "android", "api"}
	paths := []string{"/", "/pricing", "/docs/getting-started", "/blog/how-we-scaled", "/checkout", "/account/settings", "/search"}
	referrers := []string{"https://www.google.com/", "https://news.ycombinator.com/", "https://twitter.com/", "https://www.bing.com/search?q=exportd"}
	plans := []string{"free", "pro", "team", "enterprise"}
	ptr := func(s string) *string { return &s }
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	rows := make([]event, 1<<16)
	var id [16]byte
	for i := range rows {
		for j := range id {
			id[j] = byte(rng.Uint32())
		}
		h := hex.EncodeToString(id[:])
		at := base + int64(i)*50_000 + rng.Int64N(50_000)
		e := event{
			EventID:    h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:],
			AccountID:  "acct_" + strconv.Itoa(1000+rng.IntN(20)),
			UserID:     "usr_" + strconv.FormatInt(rng.Int64N(1e12), 36),
			EventType:  types[rng.IntN(len(types))],
			Source:     sources[rng.IntN(len(sources))],
			OccurredAt: at,
			ReceivedAt: at + rng.Int64N(2_000_000),
			EventDate:  int32(at / 86_400_000_000),
			Properties: fmt.Sprintf(`{"plan":%q,"items":%d,"amount_cents":%d,"experiment":"exp_%d","first_visit":%t}`,
				plans[rng.IntN(len(plans))], rng.IntN(10), rng.IntN(100_000), rng.IntN(50), rng.IntN(4) == 0),
			Value: rng.Int64N(1_000_000),
		}
		if rng.IntN(10) != 0 {
			e.SessionID = ptr("ses_" + strconv.FormatInt(rng.Int64N(1e15), 36))
		}
		if rng.IntN(5) != 0 {
			e.PageURL = ptr("https://app.example.com" + paths[rng.IntN(len(paths))] + "?ref=" + strconv.Itoa(rng.IntN(1000)))
		}
		if rng.IntN(3) == 0 {
			e.Referrer = ptr(referrers[rng.IntN(len(referrers))])
		}
		rows[i] = e
	}
	return rows
}()

// eventBytes is the average of the bytes a row's values take in memory,
// so MB/s measures input consumed.
var eventBytes = func() int64 {
	var n int64
	for i := range eventRows {
		e := &eventRows[i]
		n += int64(len(e.EventID)+len(e.AccountID)+len(e.UserID)+len(e.EventType)+len(e.Source)+len(e.Properties)) + 8*3 + 4
		for _, p := range []*string{e.SessionID, e.PageURL, e.Referrer} {
			if p != nil {
				n += int64(len(*p))
			}
		}
	}
	return n / int64(len(eventRows))
}()

// writeEvent writes one row the way a source does: through a reused byte
// buffer for the text that it formats itself.
func writeEvent(w *TableWriter, e *event, buf []byte) ([]byte, error) {
	w.String(e.EventID)
	w.String(e.AccountID)
	buf = append(buf[:0], e.UserID...)
	w.Bytes(buf)
	writeOptional(w, e.SessionID)
	w.String(e.EventType)
	w.String(e.Source)
	w.Int64(e.OccurredAt)
	w.Int64(e.ReceivedAt)
	w.Int32(e.EventDate)
	writeOptional(w, e.PageURL)
	writeOptional(w, e.Referrer)
	buf = append(buf[:0], e.Properties...)
	w.Bytes(buf)
	w.Int64(e.Value)
	return buf, w.EndRow()
}

func writeOptional(w *TableWriter, s *string) {
	if s == nil {
		w.Null()
		return
	}
	w.String(*s)
}

// removeFile is a DeliverFunc that consumes files the way a spool does.
func removeFile(_ context.Context, f File) error { return os.Remove(f.Path) }

// BenchmarkEvents measures the TableWriter on the events table, one row
// per iteration, with the default options (gzip at its default level,
// 128 MiB files) and alternatives, each with one lane and with two:
//
//	go test -run '^$' -bench 'BenchmarkEvents$' -benchtime 1000000x ./internal/parquetw
//
// rows/s is wall time, so lanes=2 against lanes=1 is the gain of encoding
// one table on two cores; cpu-ns/row is their cost in CPU.
func BenchmarkEvents(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"gzip-default", Options{}},
		{"gzip-1", Options{CompressionLevel: 1}},
		{"snappy", Options{Compression: Snappy}},
		{"zstd", Options{Compression: Zstd}},
		{"none", Options{Compression: Uncompressed}},
	} {
		for _, lanes := range []int{1, 2} {
			opts := bc.opts
			opts.Lanes = lanes
			b.Run(bc.name+"/lanes="+strconv.Itoa(lanes), func(b *testing.B) { runEvents(b, opts) })
		}
	}
}

// runEvents writes b.N events rows with opts and reports throughput, CPU
// time, file bytes per row and the peak heap (sampled every 5 ms).
func runEvents(b *testing.B, opts Options) {
	var out atomic.Int64
	deliver := func(ctx context.Context, f File) error {
		out.Add(f.Size)
		return removeFile(ctx, f)
	}
	w, err := NewTableWriter(context.Background(), b.TempDir(), eventsTable, opts, deliver)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Abort()
	runtime.GC()
	stop := make(chan struct{})
	peak := make(chan uint64)
	go samplePeakHeap(stop, peak)
	b.SetBytes(eventBytes)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var buf []byte
	for i := 0; i < b.N; i++ {
		if buf, err = writeEvent(w, &eventRows[i&(len(eventRows)-1)], buf); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := w.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	close(stop)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/row")
	b.ReportMetric(float64(out.Load())/float64(b.N), "file-B/row")
	b.ReportMetric(float64(<-peak)/(1<<20), "peak-heap-MiB")
}

// BenchmarkEventsGenericWriter is the baseline: parquet-go's GenericWriter
// with GZIP at its default level, on the same rows, into a discarded
// output, with no row-group bound.
func BenchmarkEventsGenericWriter(b *testing.B) {
	var n countingWriter
	w := parquet.NewGenericWriter[event](&n, parquet.Compression(&parquet.Gzip))
	b.SetBytes(eventBytes)
	b.ReportAllocs()
	cpu0 := cpuTime()
	batch := make([]event, 0, 1024)
	for i := 0; i < b.N; i++ {
		batch = append(batch, eventRows[i&(len(eventRows)-1)])
		if len(batch) == cap(batch) {
			if _, err := w.Write(batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if _, err := w.Write(batch); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/row")
	b.ReportMetric(float64(n)/float64(b.N), "file-B/row")
}

type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}

// BenchmarkEventsMemory writes a fixed number of rows per iteration, with
// one lane and with two, and reports the peak heap (sampled every 5 ms) and
// the process's peak RSS. writer-heap-MiB leaves out the heap in use before
// the writer starts (the pool of generated rows). Run each case in its own
// process, as peak RSS never goes down:
//
//	go test -run '^$' -bench 'EventsMemory/^rows=1000000$/^lanes=1$' -benchtime 1x ./internal/parquetw
//	go test -run '^$' -bench 'EventsMemory/^rows=10000000$/^lanes=2$' -benchtime 1x ./internal/parquetw
//
// Both sizes fill row groups to their bound (1M events rows make ~60 MB of
// parquet), so the second shows what ten times more rows cost.
func BenchmarkEventsMemory(b *testing.B) {
	for _, rows := range []int{1_000_000, 10_000_000} {
		for _, lanes := range []int{1, 2} {
			b.Run("rows="+strconv.Itoa(rows)+"/lanes="+strconv.Itoa(lanes), func(b *testing.B) {
				runtime.GC()
				base := heapObjects() // mostly the pool of generated rows
				stop := make(chan struct{})
				peak := make(chan uint64)
				go samplePeakHeap(stop, peak)
				for i := 0; i < b.N; i++ {
					w, err := NewTableWriter(context.Background(), b.TempDir(), eventsTable, Options{Lanes: lanes}, removeFile)
					if err != nil {
						b.Fatal(err)
					}
					var buf []byte
					for r := 0; r < rows; r++ {
						if buf, err = writeEvent(w, &eventRows[r&(len(eventRows)-1)], buf); err != nil {
							b.Fatal(err)
						}
					}
					if _, err := w.Close(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
				close(stop)
				max := <-peak
				b.ReportMetric(float64(max)/(1<<20), "peak-heap-MiB")
				b.ReportMetric(float64(max-base)/(1<<20), "writer-heap-MiB")
				b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
				b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}

// heapObjects is the bytes of heap objects, live or not yet swept.
func heapObjects() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

func samplePeakHeap(stop <-chan struct{}, peak chan<- uint64) {
	var max uint64
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if v := heapObjects(); v > max {
			max = v
		}
		select {
		case <-stop:
			peak <- max
			return
		case <-tick.C:
		}
	}
}

// peakRSS reads VmHWM, the process's peak resident set, on Linux.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

var _ io.Writer = (*countingWriter)(nil)

// cpuTime is the CPU time, user and system, the process has used. On a
// shared machine it is a steadier measure than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
