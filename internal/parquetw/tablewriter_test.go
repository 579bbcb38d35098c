package parquetw

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/exportd/exportd/internal/schema"
)

// TestRotation writes well over the target size with one lane and checks
// the files: contiguous indexes delivered in order, each readable on its
// own, near the target, holding the rows in the order written, with rows
// summing to the total and Size and SHA256 matching disk. TestLanesRotation
// is its multi-lane variant.
func TestRotation(t *testing.T) {
	const target = 64 << 10
	rows := randomRows(6000, 11)
	want := cloneRows(rows)
	opts := Options{TargetFileSize: target, PageBufferSize: minPageBufferSize, batchRows: 100, Lanes: 1}
	files, sum := writeTable(t, allKinds, opts, rows)
	if len(files) < 4 {
		t.Fatalf("%d files for %d rows at a %d-byte target, want several", len(files), len(want), target)
	}
	if sum.Files != len(files) {
		t.Errorf("summary says %d files, %d delivered", sum.Files, len(files))
	}
	var total, size int64
	for i, f := range files {
		if f.Index != i {
			t.Errorf("file %d delivered with index %d", i, f.Index)
		}
		if f.Table != allKinds.Name || !filepath.IsAbs(f.Path) {
			t.Errorf("file %d: table %q path %q", i, f.Table, f.Path)
		}
		checkFileOnDisk(t, f)
		t.Logf("file %d: %d bytes, %d rows", i, f.Size, f.Rows)
		if i < len(files)-1 && (f.Size > target+target/4 || f.Size < target/2) {
			t.Errorf("file %d: %d bytes, target %d", i, f.Size, target)
		}
		got := readRows(t, f.Path, allKinds)
		if int64(len(got)) != f.Rows {
			t.Errorf("file %d: %d rows read, File says %d", i, len(got), f.Rows)
		}
		for r := range got {
			for c, col := range allKinds.Columns {
				kind := col.Kind
				if kind == schema.List {
					kind = col.Elem.Kind
				}
				if w := canon(kind, want[total+int64(r)][c]); !sameValue(w, got[r][c]) {
					t.Fatalf("file %d row %d column %s: read %#v, wrote %#v", i, r, col.Name, got[r][c], w)
				}
			}
		}
		total += f.Rows
		size += f.Size
	}
	if total != int64(len(want)) || sum.Rows != total || sum.Bytes != size {
		t.Errorf("files hold %d rows and %d bytes, summary %+v, wrote %d rows", total, size, sum, len(want))
	}
}

// TestEmptyTable checks that a table without rows gets exactly one valid
// file holding its schema and no rows.
func TestEmptyTable(t *testing.T) {
	files, sum := writeTable(t, allKinds, Options{}, nil)
	if len(files) != 1 || sum.Files != 1 || sum.Rows != 0 || files[0].Rows != 0 || files[0].Index != 0 {
		t.Fatalf("files %+v, summary %+v; want one empty file", files, sum)
	}
	checkFileOnDisk(t, files[0])
	r := openMeta(t, files[0].Path)
	if r.NumRows() != 0 || r.MetaData().Schema.NumColumns() != len(allKinds.Columns) {
		t.Errorf("%d rows and %d columns", r.NumRows(), r.MetaData().Schema.NumColumns())
	}
	if rows := readRows(t, files[0].Path, allKinds); len(rows) != 0 {
		t.Errorf("read %d rows", len(rows))
	}
}

// TestRotationAtTheLastRow checks that a file finished by the last batch
// is not followed by an empty file.
func TestRotationAtTheLastRow(t *testing.T) {
	tbl := schema.Table{Name: "t", Columns: []schema.Column{{Name: "v", Kind: schema.Int64}}}
	for _, lanes := range []int{1, 2, 3} {
		t.Run("lanes="+strconv.Itoa(lanes), func(t *testing.T) {
			rows := [][]any{{int64(1)}, {int64(2)}}
			// Any batch exceeds a 1-byte target, so every batch ends a file.
			files, sum := writeTable(t, tbl, Options{TargetFileSize: 1, batchRows: 1, Lanes: lanes}, rows)
			if len(files) != 2 || sum.Rows != 2 {
				t.Fatalf("%d files, summary %+v; want 2 files of one row", len(files), sum)
			}
		})
	}
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

var int64Table = schema.Table{Name: "nums", Columns: []schema.Column{{Name: "v", Kind: schema.Int64}}}

// TestDeliverError checks, with one lane, that a failed delivery stops the
// writer and surfaces from EndRow and Close at once. Every file handed to deliver, failed or
// not, belongs to the receiver and stays; the file being written goes.
func TestDeliverError(t *testing.T) {
	dir := t.TempDir()
	boom := errors.New("destination down")
	var delivered []File
	deliver := func(_ context.Context, f File) error {
		if f.Index == 2 {
			return boom
		}
		delivered = append(delivered, f)
		return nil
	}
	w, err := NewTableWriter(context.Background(), dir, int64Table, Options{TargetFileSize: 1, batchRows: 10, Lanes: 1}, deliver)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	var endErr error
	n := 0
	for ; n < 1000 && endErr == nil; n++ {
		w.Int64(int64(n))
		endErr = w.EndRow()
	}
	if !errors.Is(endErr, boom) {
		t.Fatalf("EndRow returned %v after %d rows, want the delivery error", endErr, n)
	}
	if n != 30 {
		t.Errorf("EndRow failed at row %d, want 30 (third batch)", n)
	}
	w.Int64(1) // ignored
	if err := w.EndRow(); !errors.Is(err, boom) {
		t.Errorf("EndRow after failure: %v", err)
	}
	if _, err := w.Close(context.Background()); !errors.Is(err, boom) {
		t.Errorf("Close returned %v, want the delivery error", err)
	}
	got := dirEntries(t, dir)
	want := []string{"nums_000000000000.parquet", "nums_000000000001.parquet", "nums_000000000002.parquet"}
	if strings.Join(got, ",") != strings.Join(want, ",") || len(delivered) != 2 {
		t.Errorf("directory holds %v, want the files handed to deliver %v", got, want)
	}
}

// TestAbort checks, with one lane, that Abort removes the file being
// written and leaves delivered files, and that the writer refuses rows afterwards.
func TestAbort(t *testing.T) {
	dir := t.TempDir()
	var c collector
	w, err := NewTableWriter(context.Background(), dir, int64Table, Options{TargetFileSize: 2 << 10, batchRows: 100, Lanes: 1}, c.deliver)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		w.Int64(int64(i) * 7919)
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.files) == 0 {
		t.Fatal("no file finished before Abort")
	}
	partial := dirEntries(t, dir)
	if !strings.HasSuffix(partial[len(partial)-1], partialSuffix) {
		t.Fatalf("no partial file in %v", partial)
	}
	w.Abort()
	w.Abort() // idempotent
	got := dirEntries(t, dir)
	if len(got) != len(c.files) {
		t.Errorf("after Abort the directory holds %v, want only the %d delivered files", got, len(c.files))
	}
	for _, name := range got {
		if strings.HasSuffix(name, partialSuffix) {
			t.Errorf("partial file %s left behind", name)
		}
	}
	w.Int64(1)
	if err := w.EndRow(); !errors.Is(err, ErrClosed) {
		t.Errorf("EndRow after Abort: %v, want ErrClosed", err)
	}
	if _, err := w.Close(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Close after Abort: %v, want ErrClosed", err)
	}
}

// TestCloseTwice checks that Abort after a successful Close keeps the
// files, and a second Close reports ErrClosed.
func TestCloseTwice(t *testing.T) {
	dir := t.TempDir()
	var c collector
	w, err := NewTableWriter(context.Background(), dir, int64Table, Options{}, c.deliver)
	if err != nil {
		t.Fatal(err)
	}
	w.Int64(1)
	if err := w.EndRow(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if _, err := os.Stat(c.files[0].Path); err != nil {
		t.Errorf("Abort after Close removed a delivered file: %v", err)
	}
	if _, err := w.Close(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}

// TestContextCancelled checks, with one lane, that a cancelled context
// stops the encode at the next batch and reaches Close, which cleans up.
func TestContextCancelled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var c collector
	w, err := NewTableWriter(ctx, dir, int64Table, Options{batchRows: 10, Lanes: 1}, c.deliver)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 15 {
		w.Int64(int64(i))
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	var endErr error
	for i := 0; i < 10 && endErr == nil; i++ {
		w.Int64(int64(i))
		endErr = w.EndRow()
	}
	if !errors.Is(endErr, context.Canceled) {
		t.Fatalf("EndRow after cancel: %v", endErr)
	}
	if _, err := w.Close(context.Background()); !errors.Is(err, context.Canceled) {
		t.Errorf("Close: %v", err)
	}
	if got := dirEntries(t, dir); len(got) != 0 {
		t.Errorf("directory holds %v after a cancelled encode", got)
	}
	if len(c.files) != 0 {
		t.Errorf("%d files delivered", len(c.files))
	}
}

// TestCloseHonoursContext checks that the context given to Close is the
// one the last delivery sees, and that a done one stops it.
func TestCloseHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w, err := NewTableWriter(context.Background(), t.TempDir(), int64Table, Options{}, (&collector{}).deliver)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Close with a cancelled context: %v", err)
	}
}

func TestNewTableWriterRejects(t *testing.T) {
	deliver := (&collector{}).deliver
	tests := []struct {
		name    string
		dir     string
		table   schema.Table
		opts    Options
		deliver DeliverFunc
		want    string
	}{
		{"bad options", "x", int64Table, Options{Compression: "lz4"}, deliver, `unknown compression "lz4"`},
		{"no deliver", "x", int64Table, Options{}, nil, "needs a deliver function"},
		{"no dir", "", int64Table, Options{}, deliver, "needs a directory"},
		{"path in table name", "x", schema.Table{Name: "../etc", Columns: int64Table.Columns}, Options{}, deliver, "cannot name a file"},
		{"invalid table", "x", schema.Table{Name: "t"}, Options{}, deliver, "has no columns"},
		{"bad decimal", "x", schema.Table{Name: "t", Columns: []schema.Column{{Name: "d", Kind: schema.Decimal, Precision: 39}}}, Options{}, deliver, "precision 39"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir
			if dir != "" {
				dir = filepath.Join(t.TempDir(), dir)
			}
			_, err := NewTableWriter(context.Background(), dir, tt.table, tt.opts, tt.deliver)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestRowGroupBytesBound checks that row groups are flushed when their
// buffered bytes reach RowGroupBytes, long before the file's target.
func TestRowGroupBytesBound(t *testing.T) {
	const bound = 32 << 10
	rows := randomRows(4000, 5)
	files, _ := writeTable(t, allKinds, Options{RowGroupBytes: bound, PageBufferSize: minPageBufferSize, batchRows: 50, Lanes: 1}, rows)
	if len(files) != 1 {
		t.Fatalf("%d files, want 1", len(files))
	}
	md := openMeta(t, files[0].Path).MetaData()
	if md.NumRowGroups() < 5 {
		t.Fatalf("%d row groups for a %d-byte file at a %d-byte bound", md.NumRowGroups(), files[0].Size, bound)
	}
	for g := 0; g < md.NumRowGroups(); g++ {
		// One batch of 50 rows may land after the estimate crossed the bound.
		if size := md.RowGroup(g).TotalCompressedSize(); size > bound+bound/2 {
			t.Errorf("row group %d holds %d compressed bytes, bound %d", g, size, bound)
		}
	}
}

// TestDictionaryFallback checks that a LowCardinality column that is not
// low-cardinality stays readable: past DictionaryMaxBytes the writer falls
// back to PLAIN pages within the same column chunk.
func TestDictionaryFallback(t *testing.T) {
	tbl := schema.Table{Name: "ids", Columns: []schema.Column{{Name: "id", Kind: schema.String, LowCardinality: true, Nullable: true}}}
	var rows [][]any
	for i := range 120_000 {
		var v any = "unique-value-" + strings.Repeat("x", i%7) + "-" + strconv.Itoa(i)
		if i%13 == 0 {
			v = nil
		}
		rows = append(rows, []any{v})
	}
	want := cloneRows(rows)
	files, _ := writeTable(t, tbl, Options{Lanes: 1}, rows)
	md := openMeta(t, files[0].Path).MetaData()
	cc, err := md.RowGroup(0).ColumnChunk(0)
	if err != nil {
		t.Fatal(err)
	}
	var plain, dict bool
	for _, s := range cc.EncodingStats() {
		switch {
		case s.PageType.String() == "DATA_PAGE" && s.Encoding == pq.Encodings.Plain:
			plain = true
		case s.PageType.String() == "DATA_PAGE" && s.Encoding == pq.Encodings.RLEDict:
			dict = true
		}
	}
	if !plain || !dict {
		t.Errorf("data page encodings %v: want both dictionary pages and PLAIN pages after the fallback", cc.EncodingStats())
	}
	got := readRows(t, files[0].Path, tbl)
	for i := range want {
		if w := canon(schema.String, want[i][0]); !sameValue(w, got[i][0]) {
			t.Fatalf("row %d: read %#v, wrote %#v", i, got[i][0], w)
		}
	}
}

// TestConcurrentWriters runs several writers at once, as an export encodes
// tables in parallel; they share codecs and their compressor pools. One
// lane each, so that the same rows make the same files.
func TestConcurrentWriters(t *testing.T) {
	const writers = 4
	rows := randomRows(1500, 3)
	errs := make(chan error, writers)
	results := make([][]File, writers)
	for i := range writers {
		go func() {
			var c collector
			w, err := NewTableWriter(context.Background(), t.TempDir(), allKinds, Options{TargetFileSize: 96 << 10, batchRows: 64, Lanes: 1}, c.deliver)
			if err != nil {
				errs <- err
				return
			}
			defer w.Abort()
			mine := cloneRows(rows)
			for _, row := range mine {
				if err := writeRow(w, row); err != nil {
					errs <- err
					return
				}
			}
			_, err = w.Close(context.Background())
			results[i] = c.files
			errs <- err
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < writers; i++ {
		if len(results[i]) != len(results[0]) || len(results[0]) < 2 {
			t.Fatalf("writer %d made %d files, writer 0 %d", i, len(results[i]), len(results[0]))
		}
		for j := range results[i] {
			if !bytes.Equal(results[i][j].SHA256, results[0][j].SHA256) {
				t.Errorf("writer %d file %d differs from writer 0's: same rows should give the same bytes", i, j)
			}
		}
	}
}
