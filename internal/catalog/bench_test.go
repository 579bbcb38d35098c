package catalog

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/pluginhost"
	"github.com/exportd/exportd/internal/registry"
	"github.com/exportd/exportd/internal/testsupport"
)

var registeredN = flag.Int("registered", 2000, "registered destinations in BenchmarkRegistryStartup")

// BenchmarkRegistryStartup measures what a starting daemon pays for
// -registered s3legacy destinations in the registry: reading and decoding
// every record against the plugin's schema (lazy: destinations are
// configured in the plugin at their first export), and also configuring
// each in the plugin (eager). It reports the time, the daemon's heap
// held by the catalog, and the plugin process's resident memory.
//
//	go test -run '^$' -bench RegistryStartup -benchtime 1x ./internal/catalog
func BenchmarkRegistryStartup(b *testing.B) {
	ctx := context.Background()
	_, js := testsupport.StartNATS(b).Connect(b)
	store, err := registry.Open(ctx, js, "bench", 1)
	if err != nil {
		b.Fatal(err)
	}
	for i := range *registeredN {
		attrs := map[string]json.RawMessage{}
		for k, v := range map[string]string{
			"bucket":   fmt.Sprintf("customer-%05d-dumps", i),
			"role_arn": fmt.Sprintf("arn:aws:iam::%012d:role/platform-export", 100000000000+i),
			"region":   "eu-west-1",
		} {
			attrs[k], _ = json.Marshal(v)
		}
		r := registry.Record{Name: fmt.Sprintf("dest-%05d", i), Plugin: "s3legacy", Account: fmt.Sprintf("acct-%05d", i), Enabled: true, Attributes: attrs}
		if _, err := store.Put(ctx, r, nil); err != nil {
			b.Fatal(err)
		}
	}
	conf, diags := config.Parse([]byte("data_dir = \"x\"\nsource \"sample\" {}\n"), "bench.hcl", b.TempDir())
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	plugins := testsupport.PluginDir(b, "s3legacy")
	for _, eager := range []bool{false, true} {
		name := map[bool]string{false: "lazy", true: "eager"}[eager]
		b.Run(name, func(b *testing.B) {
			for range b.N {
				host := pluginhost.New(nil, pluginhost.Options{Dir: plugins})
				c := New(ctx, host, nil)
				staged, diags := c.Stage(ctx, conf, nil)
				if diags.HasErrors() {
					b.Fatal(diags)
				}
				staged.Commit()
				if err := host.Launch(ctx, []string{"s3legacy"}); err != nil {
					b.Fatal(err)
				}
				before := heap()
				baseRSS := pluginRSS(b, host)
				start := time.Now()
				wctx, stop := context.WithCancel(ctx)
				ready := make(chan struct{})
				go func() { _ = store.Watch(wctx, func(ch registry.Change) { c.Apply(wctx, ch) }, func() { close(ready) }) }()
				<-ready
				if eager {
					for _, n := range c.Names() {
						s := c.Snapshot("acct-" + n[len("dest-"):])
						for _, e := range s.Entries() {
							if _, err := e.Open(ctx); err != nil {
								b.Fatal(err)
							}
						}
						s.Release()
					}
				}
				took := time.Since(start)
				stop()
				b.ReportMetric(float64(took.Milliseconds()), "ms/startup")
				b.ReportMetric(float64(heap()-before)/(1<<20), "daemon-heap-MiB")
				b.ReportMetric(float64(pluginRSS(b, host)-baseRSS)/(1<<20), "plugin-RSS-MiB")
				if n := len(c.Names()); n != *registeredN {
					b.Fatalf("the catalog has %d destinations, want %d", n, *registeredN)
				}
				runtime.KeepAlive(c)
				host.Close()
			}
		})
	}
}

// heap is the live heap after a collection.
func heap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// pluginRSS is the s3legacy plugin process's resident memory now.
func pluginRSS(b *testing.B, h *pluginhost.Host) int64 {
	b.Helper()
	pid := h.PID("s3legacy")
	rss, err := testsupport.CurrentRSS(pid)
	if err != nil {
		b.Fatal(err)
	}
	return rss
}
