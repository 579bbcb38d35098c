package parquetw

// Tests of encoding with several lanes: the contract of one lane (every
// row in exactly one file, files delivered one at a time with contiguous
// indexes, the first error final, nothing left behind) with rows
// interleaving across files at batch granularity.

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/schema"
)

// checkGoroutines fails the test if goroutines started during it are still
// running shortly after it ends: a writer's lanes must be gone once Close or
// Abort returns (the grace only covers a goroutine between its last
// statement and its exit).
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Errorf("%d goroutines after the test, %d before:\n%s", runtime.NumGoroutine(), before, buf[:n])
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// canonRow puts a written row in the form readRows returns.
func canonRow(tbl schema.Table, row []any) []any {
	out := make([]any, len(row))
	for c, col := range tbl.Columns {
		kind := col.Kind
		if kind == schema.List {
			kind = col.Elem.Kind
		}
		out[c] = canon(kind, row[c])
	}
	return out
}

// rowKey spells a canonical row as a string, floats by their bits, so that
// rows can be compared as a multiset.
func rowKey(row []any) string {
	var b strings.Builder
	for _, v := range row {
		writeKey(&b, v)
		b.WriteByte('|')
	}
	return b.String()
}

func writeKey(b *strings.Builder, v any) {
	switch v := v.(type) {
	case float32:
		fmt.Fprintf(b, "f32:%x", math.Float32bits(v))
	case float64:
		fmt.Fprintf(b, "f64:%x", math.Float64bits(v))
	case []any:
		b.WriteString("[")
		for _, e := range v {
			writeKey(b, e)
			b.WriteByte(',')
		}
		b.WriteString("]")
	default:
		fmt.Fprintf(b, "%T:%q", v, fmt.Sprint(v))
	}
}

// checkSameRows fails unless the files hold exactly the written rows, each
// as many times as it was written, in any order.
func checkSameRows(t *testing.T, tbl schema.Table, want [][]any, files []File) {
	t.Helper()
	var wantKeys, gotKeys []string
	for _, row := range want {
		wantKeys = append(wantKeys, rowKey(canonRow(tbl, row)))
	}
	for _, f := range files {
		for _, row := range readRows(t, f.Path, tbl) {
			gotKeys = append(gotKeys, rowKey(row))
		}
	}
	slices.Sort(wantKeys)
	slices.Sort(gotKeys)
	if len(gotKeys) != len(wantKeys) {
		t.Fatalf("files hold %d rows, %d written", len(gotKeys), len(wantKeys))
	}
	for i := range wantKeys {
		if gotKeys[i] != wantKeys[i] {
			t.Fatalf("the rows read differ from the rows written: first difference\nread  %s\nwrote %s", gotKeys[i], wantKeys[i])
		}
	}
}

// checkOnlyFiles fails unless dir holds exactly the named files: no
// partial file, nothing else.
func checkOnlyFiles(t *testing.T, dir string, files []File) {
	t.Helper()
	var want []string
	for _, f := range files {
		want = append(want, filepath.Base(f.Path))
	}
	slices.Sort(want)
	if got := dirEntries(t, dir); !slices.Equal(got, want) {
		t.Errorf("directory holds %v, want %v", got, want)
	}
}

// TestLanesRotation is TestRotation with several lanes: many files, indexes
// contiguous in delivery order, one delivery at a time, totals right, every
// row in exactly one file, and each file made of whole batches in the order
// they were written.
func TestLanesRotation(t *testing.T) {
	const (
		target    = 64 << 10
		batchRows = 100
	)
	for _, tt := range []struct{ lanes, solo int }{{2, -1}, {3, -1}, {2, 7}} {
		t.Run(fmt.Sprintf("lanes=%d/solo=%d", tt.lanes, tt.solo), func(t *testing.T) {
			checkGoroutines(t)
			rows := randomRows(6000, 11)
			want := cloneRows(rows)
			idCol := slices.IndexFunc(allKinds.Columns, func(c schema.Column) bool { return c.Name == "id" })
			position := map[uuidBytes]int{}
			for i, row := range want {
				position[row[idCol].(uuidBytes)] = i
			}
			if len(position) != len(want) {
				t.Fatal("generated ids are not unique")
			}

			var c collector
			var inFlight atomic.Int32
			deliver := func(ctx context.Context, f File) error {
				if n := inFlight.Add(1); n != 1 {
					t.Errorf("file %d delivered while %d other deliveries run", f.Index, n-1)
				}
				defer inFlight.Add(-1)
				time.Sleep(time.Millisecond) // give other lanes time to finish files meanwhile
				return c.deliver(ctx, f)
			}
			dir := t.TempDir()
			opts := Options{TargetFileSize: target, PageBufferSize: minPageBufferSize, batchRows: batchRows, Lanes: tt.lanes, soloBatches: tt.solo}
			w, err := NewTableWriter(context.Background(), dir, allKinds, opts, deliver)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			for i, row := range rows {
				if err := writeRow(w, row); err != nil {
					t.Fatalf("row %d: %v", i, err)
				}
			}
			sum, err := w.Close(context.Background())
			if err != nil {
				t.Fatal(err)
			}

			files := c.delivered()
			if len(files) < 4 || sum.Files != len(files) {
				t.Fatalf("%d files delivered, summary says %d; want several", len(files), sum.Files)
			}
			checkOnlyFiles(t, dir, files)
			var total, size int64
			for i, f := range files {
				if f.Index != i || filepath.Base(f.Path) != fileName(allKinds.Name, i) {
					t.Errorf("delivery %d: index %d, path %s", i, f.Index, f.Path)
				}
				checkFileOnDisk(t, f)
				if f.Size > target+target/4 {
					t.Errorf("file %d: %d bytes, target %d", i, f.Size, target)
				}
				got := readRows(t, f.Path, allKinds)
				if int64(len(got)) != f.Rows {
					t.Errorf("file %d: %d rows read, File says %d", i, len(got), f.Rows)
				}
				// Whole batches, each in order, and in the order written.
				last := -1
				for r, row := range got {
					p, ok := position[row[idCol].(uuidBytes)]
					if !ok {
						t.Fatalf("file %d row %d: a row that was not written", i, r)
					}
					if !sameValue(canonRow(allKinds, want[p]), row) {
						t.Fatalf("file %d row %d: read %v, wrote %v", i, r, row, canonRow(allKinds, want[p]))
					}
					if p%batchRows == 0 {
						if p <= last {
							t.Fatalf("file %d row %d: batch of row %d after row %d", i, r, p, last)
						}
					} else if p != last+1 {
						t.Fatalf("file %d row %d: written row %d follows written row %d inside a batch", i, r, p, last)
					}
					last = p
				}
				total += f.Rows
				size += f.Size
			}
			if total != int64(len(want)) || sum.Rows != total || sum.Bytes != size {
				t.Errorf("files hold %d rows and %d bytes, summary %+v, wrote %d rows", total, size, sum, len(want))
			}
			checkSameRows(t, allKinds, want, files)
		})
	}
}

// TestLanesRoundTrip writes every kind with several lanes, several times,
// and checks that the files hold the same set of rows each time (the one
// written), with row groups within their bounds in every lane.
func TestLanesRoundTrip(t *testing.T) {
	rows := append(edgeRows(), randomRows(3000, 7)...)
	tests := []struct {
		name string
		opts Options
	}{
		{"gzip lanes=2", Options{RowGroupRows: 700, PageBufferSize: minPageBufferSize, batchRows: 97, Lanes: 2, soloBatches: -1}},
		{"zstd lanes=4", Options{Compression: Zstd, RowGroupRows: 300, TargetFileSize: 256 << 10, batchRows: 64, Lanes: 4, soloBatches: -1}},
		{"row group smaller than a batch", Options{Compression: Snappy, RowGroupRows: 50, batchRows: 128, Lanes: 3, soloBatches: -1}},
		// Lanes start with the first lane's file and row group half full.
		{"lanes after 5 batches", Options{RowGroupRows: 700, PageBufferSize: minPageBufferSize, batchRows: 97, Lanes: 2, soloBatches: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			for run := range 3 {
				want := cloneRows(rows)
				files, sum := writeTable(t, allKinds, tt.opts, rows)
				rows = cloneRows(want) // writeTable scribbled over the byte slices
				if sum.Rows != int64(len(want)) || sum.Files != len(files) {
					t.Fatalf("run %d: summary %+v for %d files, wrote %d rows", run, sum, len(files), len(want))
				}
				checkSameRows(t, allKinds, want, files)
				for _, f := range files {
					checkFileOnDisk(t, f)
					md := openMeta(t, f.Path).MetaData()
					for g := 0; g < md.NumRowGroups(); g++ {
						if n := md.RowGroup(g).NumRows(); n > tt.opts.RowGroupRows {
							t.Errorf("run %d file %d row group %d: %d rows, bound %d", run, f.Index, g, n, tt.opts.RowGroupRows)
						}
					}
				}
			}
		})
	}
}

// TestLanesRowGroupBytesBound checks that each lane flushes its row groups
// at RowGroupBytes.
func TestLanesRowGroupBytesBound(t *testing.T) {
	checkGoroutines(t)
	const bound = 32 << 10
	files, _ := writeTable(t, allKinds, Options{RowGroupBytes: bound, PageBufferSize: minPageBufferSize, batchRows: 50, Lanes: 2, soloBatches: -1}, randomRows(4000, 5))
	groups := 0
	for _, f := range files {
		md := openMeta(t, f.Path).MetaData()
		groups += md.NumRowGroups()
		for g := 0; g < md.NumRowGroups(); g++ {
			if size := md.RowGroup(g).TotalCompressedSize(); size > bound+bound/2 {
				t.Errorf("file %d row group %d holds %d compressed bytes, bound %d", f.Index, g, size, bound)
			}
		}
	}
	if groups < 5 {
		t.Errorf("%d row groups in %d files at a %d-byte bound", groups, len(files), bound)
	}
}

// TestLanesSmallTables checks that an empty table gets one schema-only file
// and that a table of fewer batches than the lanes wait for is encoded as
// with one lane, into the same bytes, without starting them; one batch more
// starts them.
func TestLanesSmallTables(t *testing.T) {
	for _, lanes := range []int{2, 4} {
		t.Run("lanes="+strconv.Itoa(lanes), func(t *testing.T) {
			checkGoroutines(t)
			files, sum := writeTable(t, allKinds, Options{Lanes: lanes}, nil)
			if len(files) != 1 || sum.Files != 1 || sum.Rows != 0 || files[0].Rows != 0 || files[0].Index != 0 {
				t.Fatalf("files %+v, summary %+v; want one empty file", files, sum)
			}
			checkFileOnDisk(t, files[0])
			if r := openMeta(t, files[0].Path); r.NumRows() != 0 || r.MetaData().Schema.NumColumns() != len(allKinds.Columns) {
				t.Errorf("%d rows and %d columns", r.NumRows(), r.MetaData().Schema.NumColumns())
			}

			const batchRows = 10
			// write reports whether the lanes started, and the files.
			write := func(opts Options, rows int) (bool, []File) {
				var c collector
				w, err := NewTableWriter(context.Background(), t.TempDir(), allKinds, opts, c.deliver)
				if err != nil {
					t.Fatal(err)
				}
				defer w.Abort()
				for i, row := range randomRows(rows, 3) {
					if err := writeRow(w, row); err != nil {
						t.Fatalf("row %d: %v", i, err)
					}
				}
				started := w.par != nil
				if _, err := w.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				return started, c.delivered()
			}
			small := defaultSoloBatches * batchRows
			started1, one := write(Options{Lanes: 1, batchRows: batchRows}, small)
			startedN, many := write(Options{Lanes: lanes, batchRows: batchRows}, small)
			if started1 || startedN {
				t.Error("lanes started for a small table")
			}
			if len(one) != 1 || len(many) != 1 || !bytes.Equal(one[0].SHA256, many[0].SHA256) {
				t.Errorf("%d lanes made %d files, one lane %d; want the same single file", lanes, len(many), len(one))
			}
			if started, _ := write(Options{Lanes: lanes, batchRows: batchRows}, small+batchRows); !started {
				t.Error("lanes not started one batch past the threshold")
			}
		})
	}
}

func TestLanesDefault(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	for _, tt := range []struct{ procs, lanes, want int }{
		{1, 0, 1},
		{2, 0, 2},
		{8, 0, DefaultMaxLanes},
		{8, 1, 1},
		{1, 3, 3},
	} {
		runtime.GOMAXPROCS(tt.procs)
		if got := (Options{Lanes: tt.lanes}).withDefaults().Lanes; got != tt.want {
			t.Errorf("GOMAXPROCS %d, Lanes %d: %d lanes, want %d", tt.procs, tt.lanes, got, tt.want)
		}
	}
}
