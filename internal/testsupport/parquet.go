package testsupport

import (
	"context"
	"fmt"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/exportd/exportd/internal/schema"
)

// ReadParquet reads a parquet file with arrow-go, an implementation
// independent of the writer under test, and returns its rows as Go values
// in the representation of sample.Recorder, so that they compare with
// reflect.DeepEqual against what a source produced:
//
//	String, JSON -> string      Bytes -> []byte        Bool -> bool
//	Int16/32/64 -> int16/32/64  Float32/64 -> float32/64
//	Decimal -> string with exactly Scale fraction digits
//	Date -> time.Time at midnight UTC    Time -> time.Duration
//	Timestamp -> time.Time in UTC        UUID -> [16]byte
//	List -> []any                        null -> nil
//
// The file's columns must be the table's, in order.
func ReadParquet(t testing.TB, path string, tbl schema.Table) [][]any {
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
				v, err := arrowValue(col, chunk, i)
				if err != nil {
					t.Fatalf("%s: row %d column %s: %v", path, r, col.Name, err)
				}
				rows[r][c] = v
				r++
			}
		}
	}
	return rows
}

func arrowValue(col *schema.Column, a arrow.Array, i int) (any, error) {
	if a.IsNull(i) {
		return nil, nil
	}
	if ext, ok := a.(array.ExtensionArray); ok {
		a = ext.Storage()
	}
	switch a := a.(type) {
	case *array.List:
		start, end := a.ValueOffsets(i)
		out := make([]any, 0, end-start)
		for j := start; j < end; j++ {
			v, err := arrowValue(col.Elem, a.ListValues(), int(j))
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case *array.Boolean:
		return a.Value(i), nil
	case *array.Int16:
		return a.Value(i), nil
	case *array.Int32:
		if col.Kind == schema.Int16 {
			return int16(a.Value(i)), nil
		}
		return a.Value(i), nil
	case *array.Int64:
		return a.Value(i), nil
	case *array.Float32:
		return a.Value(i), nil
	case *array.Float64:
		return a.Value(i), nil
	case *array.String:
		return a.Value(i), nil
	case *array.LargeString:
		return a.Value(i), nil
	case *array.Binary:
		if col.Kind == schema.String || col.Kind == schema.JSON {
			return string(a.Value(i)), nil
		}
		return append([]byte{}, a.Value(i)...), nil
	case *array.Decimal128:
		return decimalString(a.Value(i).BigInt(), col.Scale), nil
	case *array.Decimal256:
		return decimalString(a.Value(i).BigInt(), col.Scale), nil
	case *array.Date32:
		return time.Unix(int64(a.Value(i))*86400, 0).UTC(), nil
	case *array.Time64:
		unit := a.DataType().(*arrow.Time64Type).Unit
		return time.Duration(a.Value(i)) * unit.Multiplier(), nil
	case *array.Timestamp:
		v := int64(a.Value(i))
		switch a.DataType().(*arrow.TimestampType).Unit {
		case arrow.Second:
			return time.Unix(v, 0).UTC(), nil
		case arrow.Millisecond:
			return time.UnixMilli(v).UTC(), nil
		case arrow.Microsecond:
			return time.UnixMicro(v).UTC(), nil
		}
		return time.Unix(0, v).UTC(), nil
	case *array.FixedSizeBinary:
		if col.Kind == schema.UUID {
			var u [16]byte
			copy(u[:], a.Value(i))
			return u, nil
		}
		return append([]byte{}, a.Value(i)...), nil
	}
	return nil, fmt.Errorf("unexpected arrow array %T", a)
}

// decimalString renders an unscaled decimal with exactly scale fraction
// digits, as "-12.50".
func decimalString(unscaled *big.Int, scale int) string {
	neg := unscaled.Sign() < 0
	digits := new(big.Int).Abs(unscaled).String()
	if scale > 0 {
		if len(digits) <= scale {
			digits = strings.Repeat("0", scale-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}
