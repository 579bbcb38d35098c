package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/testsupport"
)

// BenchmarkExportEvents exports the sample events table with the real
// exportd and localfs binaries (`exportd export`), at two scales, and
// reports rows/s, MB/s of parquet written, and the exportd process's peak
// RSS. Each scale runs in its own process, so the peaks compare: memory is
// bounded by configuration, so it must not grow with the row count.
//
//	make bench
func BenchmarkExportEvents(b *testing.B) {
	for _, rows := range []int64{1_000_000, 5_000_000} {
		b.Run(fmt.Sprintf("rows=%dM", rows/1_000_000), func(b *testing.B) {
			benchExport(b, rows, fmt.Sprintf(`source "sample" {
  tables = ["events"]
  rows   = { events = %d }
}`, rows))
		})
	}
}

// BenchmarkExportPostgresEvents is BenchmarkExportEvents with the
// production source: a generated 13-column events table in a private
// PostgreSQL 15 on the same machine, exported by the real exportd through
// the localfs plugin (snapshot, binary reads, parquet with GZIP at its
// default level, spool, delivery, receipt).
func BenchmarkExportPostgresEvents(b *testing.B) {
	pg := testsupport.StartPostgres(b)
	db := pg.NewDatabase(b)
	pg.CreateEventsTable(b, db, "acct_bench")
	have := 0
	for _, rows := range []int{1_000_000, 5_000_000} {
		start := time.Now()
		pg.FillEventsTable(b, db, "acct_bench", have+1, rows)
		b.Logf("generated %d rows in %v", rows-have, time.Since(start).Round(time.Second))
		have = rows
		b.Run(fmt.Sprintf("rows=%dM", rows/1_000_000), func(b *testing.B) {
			benchExport(b, int64(rows), fmt.Sprintf(`source "postgres" {
  dsn    = %q
  schema = "acct_${event.account_id}"
  tables = ["events"]
}`, pg.SocketDSN(db.Name)))
		})
	}
}

// benchExport runs `exportd export` of account "bench" from source (an
// HCL source block) to a localfs destination, b.N times, and reports
// rows/s, MB/s of parquet written, and the exportd process's peak RSS.
func benchExport(b *testing.B, rows int64, source string) {
	bin := exportdBinary(b)
	pluginDir := testsupport.PluginDir(b, "localfs")
	for i := 0; i < b.N; i++ {
		out := b.TempDir()
		cfg := writeConfig(b, fmt.Sprintf(`
data_dir   = %q
plugin_dir = %q
http { listen = "" }
%s
destination "localfs" "bench" {
  account = "bench"
  path    = %q
  fsync   = false
}
`, b.TempDir(), pluginDir, source, out))
		cmd := exec.Command(bin, "export", "-config", cfg, "-account", "bench")
		start := time.Now()
		combined, err := cmd.CombinedOutput()
		took := time.Since(start)
		if err != nil {
			b.Fatalf("exportd export: %v\n%s", err, combined)
		}
		if !strings.Contains(string(combined), "committed "+strconv.FormatInt(rows, 10)+" rows") {
			b.Fatalf("unexpected output:\n%s", combined)
		}
		bytes := dirSize(b, out)
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
		b.ReportMetric(float64(rows)/took.Seconds(), "rows/s")
		b.ReportMetric(float64(bytes)/took.Seconds()/1e6, "MB/s")
		b.ReportMetric(float64(rss)/1024, "peak-RSS-MiB")
		b.ReportMetric(float64(bytes)/1e6, "output-MB")
	}
}

func dirSize(b *testing.B, dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			if info, err := e.Info(); err == nil {
				n += info.Size()
			}
		}
		return err
	})
	return n
}
