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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/exportd/exportd/internal/schema"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/testsupport"
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

// readRows reads a file with arrow-go (through testsupport.ReadParquet)
// and returns its rows in canonical form.
func readRows(t testing.TB, path string, tbl schema.Table) [][]any {
	t.Helper()
	rows := testsupport.ReadParquet(t, path, tbl)
	for _, row := range rows {
		for c := range row {
			row[c] = readCanon(t, &tbl.Columns[c], row[c])
		}
	}
	return rows
}

// readCanon turns a value as testsupport.ReadParquet returns it into the
// canonical form of canon.
func readCanon(t testing.TB, col *schema.Column, v any) any {
	switch v := v.(type) {
	case nil, bool, int64, float32, float64:
		return v
	case []any:
		for i := range v {
			v[i] = readCanon(t, col.Elem, v[i])
		}
		return v
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case []byte:
		return string(v)
	case [16]byte:
		return uuidBytes(v)
	case time.Duration:
		return v.Microseconds()
	case time.Time:
		if col.Kind == schema.Date {
			return v.Unix() / 86400
		}
		return v.UnixMicro()
	case string:
		if col.Kind != schema.Decimal {
			return v
		}
		unscaled, ok := new(big.Int).SetString(strings.Replace(v, ".", "", 1), 10)
		if !ok {
			t.Fatalf("column %s: decimal %q", col.Name, v)
		}
		return unscaled.String()
	}
	t.Fatalf("column %s: unexpected value %T", col.Name, v)
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
