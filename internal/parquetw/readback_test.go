package parquetw

// Test helpers: write rows through the RowWriter calls from Go values, and
// read files back with arrow-go, an implementation independent of the
// parquet-go writer under test.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"math/big"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/exportd/exportd/internal/schema"
	"github.com/exportd/exportd/internal/source"
)

// uuidBytes is how tests spell a UUID value: written with Fixed.
type uuidBytes [16]byte

// writeValue makes the RowWriter call that fits v's Go type; nil is Null
// and []any a list. The column kind only picks the call for ints that
// several kinds share.
func writeValue(w source.RowWriter, v any) {
	switch v := v.(type) {
	case nil:
		w.Null()
	case bool:
		w.Bool(v)
	case int16:
		w.Int32(int32(v))
	case int32:
		w.Int32(v)
	case int64:
		w.Int64(v)
	case *big.Int:
		w.BigInt(v)
	case float32:
		w.Float32(v)
	case float64:
		w.Float64(v)
	case string:
		w.String(v)
	case []byte:
		w.Bytes(v)
	case uuidBytes:
		w.Fixed(v[:])
	case []any:
		w.BeginList(len(v))
		for _, e := range v {
			writeValue(w, e)
		}
		w.EndList()
	default:
		panic(fmt.Sprintf("test value of type %T", v))
	}
}

// writeRow writes one row; the []byte values are overwritten afterwards, as
// a source reusing its buffers would.
func writeRow(w source.RowWriter, row []any) error {
	for _, v := range row {
		writeValue(w, v)
	}
	err := w.EndRow()
	for _, v := range row {
		scribble(v)
	}
	return err
}

func scribble(v any) {
	switch v := v.(type) {
	case []byte:
		for i := range v {
			v[i] = 0xAA
		}
	case []any:
		for _, e := range v {
			scribble(e)
		}
	}
}

// cloneRows deep-copies rows so the copy survives scribble.
func cloneRows(rows [][]any) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		out[i] = cloneValue(r).([]any)
	}
	return out
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case []byte:
		return bytes.Clone(v)
	case []any:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = cloneValue(e)
		}
		return c
	}
	return v
}

// canon puts a written or read value in one comparable form per kind:
// nil, bool, int64, float32, float64, string (text, bytes, JSON, decimals
// as their unscaled digits), uuidBytes, or []any.
func canon(kind schema.Kind, v any) any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = canon(kind, e)
		}
		return out
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case int64:
		if kind == schema.Decimal {
			return big.NewInt(v).String()
		}
		return v
	case *big.Int:
		return v.String()
	case []byte:
		if kind == schema.UUID {
			var u uuidBytes
			copy(u[:], v)
			return u
		}
		return string(v)
	}
	return v
}

// sameValue is reflect.DeepEqual for canonical values, except that floats
// compare by bits so NaN equals NaN and -0 differs from 0.
func sameValue(a, b any) bool {
	switch a := a.(type) {
	case float64:
		b, ok := b.(float64)
		return ok && math.Float64bits(a) == math.Float64bits(b)
	case float32:
		b, ok := b.(float32)
		return ok && math.Float32bits(a) == math.Float32bits(b)
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) || (a == nil) != (b == nil) {
			return false
		}
		for i := range a {
			if !sameValue(a[i], b[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

// readRows reads a file with arrow-go's pqarrow and returns its rows in
// canonical form, using the table to know each column's kind.
func readRows(t testing.TB, path string, tbl schema.Table) [][]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	at, err := pqarrow.ReadTable(context.Background(), f, nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("arrow-go cannot read %s: %v", path, err)
	}
	defer at.Release()
	if int(at.NumCols()) != len(tbl.Columns) {
		t.Fatalf("%s: %d columns, want %d", path, at.NumCols(), len(tbl.Columns))
	}
	rows := make([][]any, at.NumRows())
	for i := range rows {
		rows[i] = make([]any, len(tbl.Columns))
	}
	for c := range tbl.Columns {
		col := &tbl.Columns[c]
		if got := at.Schema().Field(c).Name; got != col.Name {
			t.Fatalf("%s: column %d is %q, want %q", path, c, got, col.Name)
		}
		r := 0
		for _, chunk := range at.Column(c).Data().Chunks() {
			for i := 0; i < chunk.Len(); i++ {
				rows[r][c] = arrowValue(t, col, chunk, i)
				r++
			}
		}
	}
	return rows
}

// arrowValue converts element i of an arrow array into canonical form.
func arrowValue(t testing.TB, col *schema.Column, a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	if ext, ok := a.(array.ExtensionArray); ok {
		a = ext.Storage()
	}
	switch a := a.(type) {
	case *array.List:
		start, end := a.ValueOffsets(i)
		out := make([]any, 0, end-start)
		for j := start; j < end; j++ {
			out = append(out, arrowValue(t, col.Elem, a.ListValues(), int(j)))
		}
		return out
	case *array.Boolean:
		return a.Value(i)
	case *array.Int16:
		return int64(a.Value(i))
	case *array.Int32:
		return int64(a.Value(i))
	case *array.Int64:
		return a.Value(i)
	case *array.Float32:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	case *array.Binary:
		return string(a.Value(i))
	case *array.Decimal128:
		return a.Value(i).BigInt().String()
	case *array.Date32:
		return int64(a.Value(i))
	case *array.Time64:
		return int64(a.Value(i))
	case *array.Timestamp:
		return int64(a.Value(i))
	case *array.FixedSizeBinary:
		var u uuidBytes
		copy(u[:], a.Value(i))
		return u
	}
	t.Fatalf("column %s: unexpected arrow array %T", col.Name, a)
	return nil
}

// openMeta opens a file's metadata with arrow-go's low-level reader.
func openMeta(t testing.TB, path string) *file.Reader {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatalf("arrow-go cannot open %s: %v", path, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// collector is a DeliverFunc that records files.
type collector struct {
	mu    sync.Mutex
	files []File
}

func (c *collector) deliver(_ context.Context, f File) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.files = append(c.files, f)
	return nil
}

// delivered returns the files recorded so far; with several lanes, deliver
// runs on their goroutines.
func (c *collector) delivered() []File {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.files)
}

// checkFileOnDisk verifies a delivered file's size and digest.
func checkFileOnDisk(t testing.TB, f File) {
	t.Helper()
	data, err := os.ReadFile(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != f.Size {
		t.Errorf("%s: size %d on disk, File says %d", f.Path, len(data), f.Size)
	}
	sum := sha256.Sum256(data)
	if !bytes.Equal(sum[:], f.SHA256) {
		t.Errorf("%s: SHA-256 %x on disk, File says %x", f.Path, sum, f.SHA256)
	}
}

// writeTable writes rows into a new TableWriter, closes it and returns the
// delivered files.
func writeTable(t testing.TB, tbl schema.Table, opts Options, rows [][]any) ([]File, Summary) {
	t.Helper()
	var c collector
	w, err := NewTableWriter(context.Background(), t.TempDir(), tbl, opts, c.deliver)
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
	return c.files, sum
}
