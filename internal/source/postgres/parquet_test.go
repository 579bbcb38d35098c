package postgres

import (
	"context"
	"encoding/hex"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/parquetw"
	"github.com/exportd/exportd/internal/schema"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/testsupport"
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

// readParquet reads a file back with arrow-go (through
// testsupport.ReadParquet) into canonical values (see recorder).
func readParquet(t testing.TB, path string, tbl schema.Table) [][]string {
	t.Helper()
	var out [][]string
	for _, row := range testsupport.ReadParquet(t, path, tbl) {
		canon := make([]string, len(row))
		for c, v := range row {
			canon[c] = canonString(t, &tbl.Columns[c], v)
		}
		out = append(out, canon)
	}
	return out
}

// canonString renders a value as testsupport.ReadParquet returns it in
// the recorder's canonical form.
func canonString(t testing.TB, col *schema.Column, v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = canonString(t, col.Elem, e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case bool:
		return strconv.FormatBool(v)
	case int16:
		return strconv.FormatInt(int64(v), 10)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case int64:
		return strconv.FormatInt(v, 10)
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case []byte:
		return strconv.Quote(string(v))
	case [16]byte:
		return hex.EncodeToString(v[:])
	case time.Duration:
		return strconv.FormatInt(v.Microseconds(), 10)
	case time.Time:
		if col.Kind == schema.Date {
			return strconv.FormatInt(v.Unix()/86400, 10)
		}
		return strconv.FormatInt(v.UnixMicro(), 10)
	case string:
		if col.Kind != schema.Decimal {
			return strconv.Quote(v)
		}
		unscaled, ok := new(big.Int).SetString(strings.Replace(v, ".", "", 1), 10)
		if !ok {
			t.Fatalf("column %s: decimal %q", col.Name, v)
		}
		return unscaled.String()
	}
	t.Fatalf("column %s: unexpected value %T", col.Name, v)
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
	checkEveryType(t, readParquet(t, files[0].Path, snap.Tables()[0]))
}
