package postgres

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/parquetw"
	"github.com/exportd/exportd/internal/testsupport"
)

var benchSerial = flag.Bool("events-serial", false, "BenchmarkExportEvents also runs each size without read-ahead, for comparison")

var benchSizes = flag.String("events-rows", "1000000,5000000", "comma-separated sizes of the events table that BenchmarkExportEvents exports")

// BenchmarkExportEvents exports a generated events table through the
// shared parquet writer (GZIP at its default level, files removed as soon
// as they are delivered) and reports rows/s, MB/s of the table's text form,
// MB/s of parquet written, and the process's peak RSS during the export.
// The server runs on the same machine, as in production on a small VM.
//
//	go test -run '^$' -bench ExportEvents -benchtime 1x ./internal/source/postgres
//	go test -run '^$' -bench ExportEvents -benchtime 1x -events-rows 200000 ./internal/source/postgres
func BenchmarkExportEvents(b *testing.B) {
	var sizes []int
	for _, f := range strings.Split(*benchSizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("-events-rows: %q is not a row count", f)
		}
		sizes = append(sizes, n)
	}
	// The table grows from one size to the next.
	slices.Sort(sizes)
	pg := testsupport.SharedPostgres(b)
	db := pg.NewDatabase(b)
	pg.CreateEventsTable(b, db, "acct_bench")
	have := 0
	for _, n := range sizes {
		if n > have { // the table holds exactly n rows
			start := time.Now()
			pg.FillEventsTable(b, db, "acct_bench", have+1, n)
			b.Logf("generated %d rows in %v", n-have, time.Since(start).Round(time.Second))
			have = n
		}
		textBytes, _ := strconv.ParseFloat(pg.ExecScalar(b, db.Name,
			"SELECT sum(octet_length(e::text)) FROM acct_bench.events e"), 64)
		modes := []bool{false}
		if *benchSerial {
			modes = append(modes, true)
		}
		for _, serial := range modes {
			name := fmt.Sprintf("rows=%d", n)
			if serial {
				name += "/serial"
			}
			b.Run(name, func(b *testing.B) {
				serialReads = serial
				defer func() { serialReads = false }()
				s := newSource(b, fmt.Sprintf("dsn = %q\nschema = \"acct_bench\"\ntables = [\"events\"]\n", pg.SocketDSN(db.Name)))
				var rows, parquetBytes int64
				var elapsed, serverCPU time.Duration
				resetPeakRSS(b)
				cpu0 := processCPU()
				for b.Loop() {
					start := time.Now()
					r, pb, server := exportEventsOnce(b, s)
					serverCPU += server
					elapsed += time.Since(start)
					rows += r
					parquetBytes += pb
				}
				cpu := processCPU() - cpu0
				sec := elapsed.Seconds()
				// CPU time per row of this process (reading, decoding,
				// encoding, compressing), which other load on the machine
				// does not change as it changes rows/s.
				b.ReportMetric(cpu.Seconds()*1e6/float64(rows), "cpu-µs/row")
				// The same for the server (the reader's session, which stays
				// in the pool, and the postmaster).
				b.ReportMetric(serverCPU.Seconds()*1e6/float64(rows), "server-cpu-µs/row")
				b.ReportMetric(float64(rows)/sec, "rows/s")
				b.ReportMetric(textBytes*float64(b.N)/sec/1e6, "text-MB/s")
				b.ReportMetric(float64(parquetBytes)/sec/1e6, "parquet-MB/s")
				b.ReportMetric(float64(peakRSS(b))/(1<<20), "peak-RSS-MiB")
			})
		}
	}
}

// exportEventsOnce exports the table and returns the rows and parquet bytes
// written, and the CPU time the server's reading session spent.
func exportEventsOnce(b *testing.B, s *Source) (rows, bytes int64, server time.Duration) {
	ctx := context.Background()
	snap, err := s.Open(ctx, sourceRequest(ev("bench")))
	if err != nil {
		b.Fatal(err)
	}
	defer snap.Close()
	dir := b.TempDir()
	w, err := parquetw.NewTableWriter(ctx, dir, snap.Tables()[0], parquetw.Options{}, func(_ context.Context, f parquetw.File) error {
		// Delivered: the spool file is no longer needed.
		rows += f.Rows
		bytes += f.Size
		return os.Remove(f.Path)
	})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Abort()
	if err := snap.ReadTable(ctx, "events", w); err != nil {
		b.Fatal(err)
	}
	if _, err := w.Close(ctx); err != nil {
		b.Fatal(err)
	}
	// The pool of this source has one connection: the one that read.
	c, err := s.readers.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Release()
	pid := int(c.Conn().PgConn().PID())
	before, seen := sessionCPU[pid]
	now := procCPU(b, pid)
	sessionCPU[pid] = now
	if !seen {
		before = 0
	}
	return rows, bytes, now - before
}

// sessionCPU remembers each server session's CPU time at the end of the
// previous export.
var sessionCPU = map[int]time.Duration{}

// procCPU is the user and system CPU time of process pid so far.
func procCPU(b *testing.B, pid int) time.Duration {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name, which ends with the last ')'.
	f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	// Clock ticks of 1/100 s (USER_HZ).
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS restarts the kernel's high-water mark of this process's
// resident set (Linux: 5 to /proc/self/clear_refs).
func resetPeakRSS(b testing.TB) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset the peak RSS: %v", err)
	}
}

// peakRSS returns VmHWM, in bytes.
func peakRSS(b testing.TB) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
