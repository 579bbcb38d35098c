package postgres

import (
	"context"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/exportd/exportd/internal/parquetw"
	"github.com/exportd/exportd/internal/schema"
	"github.com/exportd/exportd/internal/source"
)

// exportParquet reads table from snap into parquet files in dir through the
// shared writer and returns the files.
func exportParquet(ctx context.Context, t testing.TB, snap source.Snapshot, table, dir string, opts parquetw.Options) []parquetw.File {
	t.Helper()
	var files []parquetw.File
	var def *schema.Table
	for _, st := range snap.Tables() {
		if st.Name == table {
			def = &st
		}
	}
	if def == nil {
		t.Fatalf("no table %s in the snapshot", table)
	}
	w, err := parquetw.NewTableWriter(ctx, dir, *def, opts, func(_ context.Context, f parquetw.File) error {
		files = append(files, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if err := snap.ReadTable(ctx, table, w); err != nil {
		t.Fatalf("ReadTable %s: %v", table, err)
	}
	if _, err := w.Close(ctx); err != nil {
		t.Fatalf("close the writer of %s: %v", table, err)
	}
	return files
}

// readParquet reads a file back with arrow-go into canonical values (see
// recorder).
func readParquet(t testing.TB, path string) [][]string {
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
	rows := make([][]string, at.NumRows())
	for c := 0; c < int(at.NumCols()); c++ {
		r := 0
		for _, chunk := range at.Column(c).Data().Chunks() {
			for i := 0; i < chunk.Len(); i++ {
				rows[r] = append(rows[r], arrowCanon(t, chunk, i))
				r++
			}
		}
	}
	return rows
}

func arrowCanon(t testing.TB, a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "NULL"
	}
	if ext, ok := a.(array.ExtensionArray); ok {
		a = ext.Storage()
	}
	switch a := a.(type) {
	case *array.List:
		start, end := a.ValueOffsets(i)
		var parts []string
		for j := start; j < end; j++ {
			parts = append(parts, arrowCanon(t, a.ListValues(), int(j)))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i))
	case *array.Int16:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int32:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Float32:
		return strconv.FormatFloat(float64(a.Value(i)), 'g', -1, 32)
	case *array.Float64:
		return strconv.FormatFloat(a.Value(i), 'g', -1, 64)
	case *array.String:
		return strconv.Quote(a.Value(i))
	case *array.Binary:
		return strconv.Quote(string(a.Value(i)))
	case *array.Decimal128:
		return a.Value(i).BigInt().String()
	case *array.Date32:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Time64:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Timestamp:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.FixedSizeBinary:
		return hex.EncodeToString(a.Value(i))
	}
	t.Fatalf("unexpected arrow array %T", a)
	return ""
}

// TestEveryTypeThroughParquet exports the every-type table through the
// shared parquet writer and reads the file back with arrow-go: every value
// must equal what PostgreSQL holds.
func TestEveryTypeThroughParquet(t *testing.T) {
	_, db := setupEveryType(t)
	s := everySource(t, db)
	ctx := testContext(t)
	snap, err := s.Open(ctx, sourceRequest(ev("every")))
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	files := exportParquet(ctx, t, snap, "every", t.TempDir(), parquetw.Options{})
	if len(files) != 1 || files[0].Rows != 5 {
		t.Fatalf("files %+v, want one with 5 rows", files)
	}
	checkEveryType(t, readParquet(t, files[0].Path))
}
