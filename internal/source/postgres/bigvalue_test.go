package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/parquetw"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/testsupport"
)

// blobDB is a database with table acct_v.blobs (id, note, payload): small
// rows around one whose payload is size bytes, at id big.
func blobDB(t *testing.T, size, big int) testsupport.Database {
	pg := testsupport.SharedPostgres(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db.Name, fmt.Sprintf(`SET ROLE %s; CREATE SCHEMA acct_v;
	  CREATE TABLE acct_v.blobs (id int NOT NULL, note text, payload bytea);
	  INSERT INTO acct_v.blobs SELECT g, 'n' || g, convert_to(repeat('s', g %% 50), 'UTF8') FROM generate_series(1, %d) g;
	  INSERT INTO acct_v.blobs VALUES (%d, 'big', convert_to(repeat('x', %d), 'UTF8'));
	  INSERT INTO acct_v.blobs SELECT g, 'n' || g, NULL FROM generate_series(%d, %d) g;`,
		db.User, big-1, big, size, big+1, big+20000))
	return db
}

// TestMaxValueSize: a value larger than max_value_size fails the read with
// a permanent error naming the table, the row and the column, with or
// without read-ahead; the snapshot's next read works; within the limit,
// the value arrives whole.
func TestMaxValueSize(t *testing.T) {
	db := blobDB(t, 3<<20, 500)
	for _, serial := range []bool{false, true} {
		t.Run(fmt.Sprintf("serial=%v", serial), func(t *testing.T) {
			serialReads = serial
			defer func() { serialReads = false }()
			s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_v\"\ntables = [\"blobs\"]\nmax_value_size = \"2MiB\"\nparallelism = 1\n", db.DSN))
			ctx := testContext(t)
			snap, err := s.Open(ctx, sourceRequest(ev("v")))
			if err != nil {
				t.Fatal(err)
			}
			defer snap.Close()
			w := &counter{}
			err = snap.ReadTable(ctx, "blobs", w)
			want := "read table acct_v.blobs: row 500: column payload: a value of 3145728 bytes (3.0 MiB), more than max_value_size (2MiB)"
			if err == nil || !strings.Contains(err.Error(), want) || kindOf(err) != "permanent" {
				t.Fatalf("ReadTable: %v (kind %s), want a permanent %q", err, kindOf(err), want)
			}
			if w.rows != 499 {
				t.Errorf("%d rows written before the failure, want the 499 before it", w.rows)
			}
			// The pool replaced the connection the guard stopped.
			err = snap.ReadTable(ctx, "blobs", &counter{})
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("second read: %v", err)
			}
		})
	}
	s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_v\"\ntables = [\"blobs\"]\nmax_value_size = \"3MiB\"\n", db.DSN))
	got, _ := readAll(t, s, ev("v"))
	rows := got["blobs"].rows
	if len(rows) != blobRows || rows[499][2] != fmt.Sprintf("%q", strings.Repeat("x", 3<<20)) || rows[500][1] != `"n501"` {
		t.Fatalf("%d rows; row 500 is not the 3 MiB value, or the next row is wrong", len(rows))
	}
}

// TestBatchLetsBigBuffersGo: a batch that grew for a big row gives that
// buffer up when it is reused, so that one big value does not pin memory
// for the rest of the table.
func TestBatchLetsBigBuffersGo(t *testing.T) {
	b := newBatch(2)
	b.add([][]byte{[]byte("1"), make([]byte, 40<<20)})
	if cap(b.buf) < 40<<20 {
		t.Fatalf("the batch did not grow: %d", cap(b.buf))
	}
	b.reset()
	if cap(b.buf) > maxKeptBatchBytes {
		t.Fatalf("after reset, the batch keeps %d bytes", cap(b.buf))
	}
	b.add([][]byte{[]byte("2"), []byte("small")})
	if got := b.row(0); string(got[0]) != "2" || string(got[1]) != "small" {
		t.Fatalf("row after reset: %q", got)
	}
}

// childResult is what TestExportChild reports to its parent.
type childResult struct {
	Error  string `json:"error"`
	Kind   string `json:"kind"`
	Rows   int    `json:"rows"`
	PeakKB int64  `json:"peak_kb"`
	HeapMB int64  `json:"heap_after_mb"`
}

// Environment of TestExportChild: the source block, and "parquet" to write
// the rows through the parquet writer rather than count them.
const (
	childEnv       = "EXPORTD_TEST_EXPORT_CHILD"
	childWriterEnv = "EXPORTD_TEST_EXPORT_CHILD_WRITER"
)

// TestExportChild is not a test of its own: runExportChild runs it in a
// process of its own, to measure that process's peak RSS. It reads table
// blobs of blobDB and prints a childResult.
func TestExportChild(t *testing.T) {
	cfg := os.Getenv(childEnv)
	if cfg == "" {
		t.Skip("run by runExportChild")
	}
	s := newSource(t, cfg)
	ctx := context.Background()
	snap, err := s.Open(ctx, source.Request{Event: ev("v")})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	var res childResult
	// After the last row: the heap in use once every big value has gone
	// by, the writer still open, which is what the read keeps rather than
	// what it passed through.
	atEnd := func(n int) {
		if n != blobRows {
			return
		}
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		res.HeapMB = int64(ms.HeapInuse >> 20)
	}
	var w source.RowWriter = &counter{onRow: atEnd}
	var pw *parquetw.TableWriter
	if os.Getenv(childWriterEnv) == "parquet" {
		pw, err = parquetw.NewTableWriter(ctx, t.TempDir(), snap.Tables()[0], parquetw.Options{}, func(_ context.Context, f parquetw.File) error {
			return os.Remove(f.Path)
		})
		if err != nil {
			t.Fatal(err)
		}
		w = &countingWriter{TableWriter: pw, onRow: atEnd}
	}
	err = snap.ReadTable(ctx, "blobs", w)
	switch c := w.(type) {
	case *counter:
		res.Rows = c.rows
	case *countingWriter:
		res.Rows = c.rows
	}
	if err != nil {
		res.Error, res.Kind = err.Error(), kindOf(err)
	}
	if pw != nil {
		if err == nil {
			_, err = pw.Close(ctx)
		}
		pw.Abort()
		if err != nil && res.Error == "" {
			t.Fatal(err)
		}
	}
	res.PeakKB = peakRSS(t) >> 10
	out, _ := json.Marshal(res)
	fmt.Printf("CHILD-RESULT %s\n", out)
}

// blobRows is the number of rows of blobDB's table.
const blobRows = 20500

// countingWriter is a parquet table writer that counts rows and runs
// onRow after each.
type countingWriter struct {
	*parquetw.TableWriter
	rows  int
	onRow func(n int)
}

func (c *countingWriter) EndRow() error {
	err := c.TableWriter.EndRow()
	c.rows++
	c.onRow(c.rows)
	return err
}

// runExportChild runs TestExportChild in a new process with the source
// block cfg, writing with writer ("parquet" or "count"), and returns what
// it reports.
func runExportChild(t *testing.T, cfg, writer string) childResult {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestExportChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+cfg, childWriterEnv+"="+writer)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	_, line, ok := strings.Cut(string(out), "CHILD-RESULT ")
	if !ok {
		t.Fatalf("child reported nothing:\n%s", out)
	}
	line, _, _ = strings.Cut(line, "\n")
	var res childResult
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestHugeValueMemory: a 300 MiB bytea fails the export (read into the
// parquet writer, as the daemon does) with a clear error, and the process
// that reads it never holds it: its peak RSS stays far below the value's
// size.
func TestHugeValueMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("creates a 300 MiB value")
	}
	const size = 300 << 20
	db := blobDB(t, size, 500)
	res := runExportChild(t, fmt.Sprintf("dsn = %q\nschema = \"acct_v\"\ntables = [\"blobs\"]\n", db.DSN), "parquet")
	t.Logf("300 MiB value, default max_value_size: peak RSS %d MiB; %s", res.PeakKB>>10, res.Error)
	want := "read table acct_v.blobs: row 500: column payload: a value of 314572800 bytes (300.0 MiB), more than max_value_size (64MiB)"
	if !strings.Contains(res.Error, want) || res.Kind != "permanent" || res.Rows != 499 {
		t.Fatalf("error %q (kind %s) after %d rows, want a permanent %q after 499", res.Error, res.Kind, res.Rows, want)
	}
	if limit := int64(size / 2); res.PeakKB<<10 > limit {
		t.Fatalf("peak RSS %d MiB while refusing a %d MiB value", res.PeakKB>>10, size>>20)
	}
}

// TestBigAllowedValueMemory: a value within max_value_size is read whole,
// and once it has gone by, the source keeps nothing of its size (its read
// buffers shrink back). Through the parquet writer, the test reports the
// peak it costs.
func TestBigAllowedValueMemory(t *testing.T) {
	const size = 48 << 20
	db := blobDB(t, size, 500)
	cfg := fmt.Sprintf("dsn = %q\nschema = \"acct_v\"\ntables = [\"blobs\"]\n", db.DSN)
	res := runExportChild(t, cfg, "count")
	t.Logf("48 MiB value, rows counted: peak RSS %d MiB, heap in use after it %d MiB", res.PeakKB>>10, res.HeapMB)
	if res.Error != "" || res.Rows != blobRows {
		t.Fatalf("read: %d rows, %s", res.Rows, res.Error)
	}
	if res.HeapMB > size>>20/2 {
		t.Fatalf("%d MiB of heap in use after a %d MiB value went by", res.HeapMB, size>>20)
	}
	res = runExportChild(t, cfg, "parquet")
	t.Logf("48 MiB value, through the parquet writer: peak RSS %d MiB", res.PeakKB>>10)
	if res.Error != "" || res.Rows != blobRows {
		t.Fatalf("export: %d rows, %s", res.Rows, res.Error)
	}
}
