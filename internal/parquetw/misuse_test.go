package parquetw

import (
	"context"
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/schema"
	"github.com/exportd/exportd/internal/source"
)

var misuseTable = schema.Table{Name: "orders", Columns: []schema.Column{
	{Name: "id", Kind: schema.Int64},
	{Name: "note", Kind: schema.String, Nullable: true},
	{Name: "amount", Kind: schema.Decimal, Precision: 4, Scale: 2},
	{Name: "big", Kind: schema.Decimal, Precision: 20, Scale: 0},
	{Name: "ref", Kind: schema.UUID},
	{Name: "qty", Kind: schema.Int16},
	{Name: "at", Kind: schema.Time},
	{Name: "tags", Kind: schema.List, Elem: &schema.Column{Kind: schema.String}},
}}

// validRow writes a correct row value by value; each test replaces the
// calls of one column.
var validCalls = []func(w source.RowWriter){
	func(w source.RowWriter) { w.Int64(1) },
	func(w source.RowWriter) { w.Null() },
	func(w source.RowWriter) { w.Int64(-9999) },
	func(w source.RowWriter) { w.BigInt(bigDigits("99999999999999999999")) },
	func(w source.RowWriter) { w.Fixed(make([]byte, 16)) },
	func(w source.RowWriter) { w.Int32(-32768) },
	func(w source.RowWriter) { w.Int64(maxTimeMicros) },
	func(w source.RowWriter) { w.BeginList(1); w.String("a"); w.EndList() },
}

func TestMisuse(t *testing.T) {
	tests := []struct {
		name   string
		column int // index of the column whose calls are replaced; -1: the whole row
		calls  func(w source.RowWriter)
		want   string
	}{
		{"wrong kind", 0, func(w source.RowWriter) { w.String("1") }, "column id: String does not fit a column of kind int64"},
		{"null in required column", 0, func(w source.RowWriter) { w.Null() }, "column id: Null in a non-nullable column of kind int64"},
		{"int on text", 1, func(w source.RowWriter) { w.Int32(1) }, "column note: Int32 does not fit a column of kind string"},
		{"decimal too wide", 2, func(w source.RowWriter) { w.Int64(10000) }, "column amount: unscaled value 10000 has more than 4 digits"},
		{"negative decimal too wide", 2, func(w source.RowWriter) { w.Int64(-10000) }, "unscaled value -10000 has more than 4 digits"},
		{"big decimal too wide", 3, func(w source.RowWriter) { w.BigInt(bigDigits("100000000000000000000")) }, "column big: unscaled value 100000000000000000000 has more than 20 digits"},
		{"big decimal too wide for 38 digits", 3, func(w source.RowWriter) { w.BigInt(new(big.Int).Lsh(big.NewInt(1), 200)) }, "has more than 20 digits"},
		{"nil big int", 3, func(w source.RowWriter) { w.BigInt(nil) }, "BigInt(nil): use Null for NULL"},
		{"Int32 on decimal", 3, func(w source.RowWriter) { w.Int32(1) }, "Int32 does not fit a column of kind decimal(20,0)"},
		{"short uuid", 4, func(w source.RowWriter) { w.Fixed(make([]byte, 15)) }, "column ref: Fixed of 15 bytes for a uuid (want 16)"},
		{"uuid as text", 4, func(w source.RowWriter) { w.String("123e4567-e89b-12d3-a456-426614174000") }, "String does not fit a column of kind uuid"},
		{"int16 overflow", 5, func(w source.RowWriter) { w.Int32(40000) }, "column qty: Int32 40000 out of range for an int16 column"},
		{"time of day out of range", 6, func(w source.RowWriter) { w.Int64(-1) }, "column at: Int64 -1 is not a time of day"},
		{"scalar on list", 7, func(w source.RowWriter) { w.String("a") }, "column tags: String does not fit a column of kind list<string> (want BeginList or Null)"},
		{"list on scalar", 0, func(w source.RowWriter) { w.BeginList(0); w.EndList() }, "column id: BeginList does not fit a column of kind int64"},
		{"nested list", 7, func(w source.RowWriter) { w.BeginList(1); w.BeginList(0) }, "column tags element 0: BeginList inside a list"},
		{"null element not nullable", 7, func(w source.RowWriter) { w.BeginList(1); w.Null(); w.EndList() }, "column tags element 0: Null in a non-nullable list element of kind string"},
		{"wrong element kind", 7, func(w source.RowWriter) { w.BeginList(1); w.Int64(1); w.EndList() }, "column tags element 0: Int64 does not fit a list element of kind string"},
		{"too few elements", 7, func(w source.RowWriter) { w.BeginList(2); w.String("a"); w.EndList() }, "BeginList(2) followed by 1 elements"},
		{"too many elements", 7, func(w source.RowWriter) { w.BeginList(0); w.String("a"); w.EndList() }, "BeginList(0) followed by 1 elements"},
		{"negative list length", 7, func(w source.RowWriter) { w.BeginList(-1) }, "BeginList(-1): negative length"},
		{"EndList alone", 7, func(w source.RowWriter) { w.EndList() }, "column tags: EndList without BeginList"},
		{"row ends inside list", 7, func(w source.RowWriter) { w.BeginList(1); w.String("a") }, "row ended inside a list"},
		{"too few values", 7, func(w source.RowWriter) {}, "table orders: row 1: row has 7 values, table has 8 columns"},
		{"too many values", 7, func(w source.RowWriter) { validCalls[7](w); w.Int64(1) }, "table orders: row 1: Int64 after the row's 8 values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var c collector
			w, err := NewTableWriter(context.Background(), dir, misuseTable, Options{}, c.deliver)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			// Row 0 is valid; row 1 carries the misuse.
			for _, call := range validCalls {
				call(w)
			}
			if err := w.EndRow(); err != nil {
				t.Fatalf("valid row: %v", err)
			}
			for i, call := range validCalls {
				if i == tt.column {
					tt.calls(w)
				} else {
					call(w)
				}
			}
			err = w.EndRow()
			if !errors.Is(err, ErrMisuse) {
				t.Fatalf("EndRow returned %v, want a misuse", err)
			}
			var me *MisuseError
			if !errors.As(err, &me) || me.Table != "orders" || me.Row != 1 {
				t.Errorf("error %#v does not locate table orders row 1", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
			// The error is final, and Close cleans up without a file.
			for _, call := range validCalls {
				call(w)
			}
			if err2 := w.EndRow(); err2 != err {
				t.Errorf("next EndRow returned %v, want the same error", err2)
			}
			if _, cerr := w.Close(context.Background()); cerr != err {
				t.Errorf("Close returned %v, want the misuse", cerr)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 || len(c.files) != 0 {
				t.Errorf("files left: %v, delivered: %d", entries, len(c.files))
			}
		})
	}
}

// TestCloseMidRow checks that closing with a row half written is a misuse,
// not a file with a truncated row.
func TestCloseMidRow(t *testing.T) {
	var c collector
	w, err := NewTableWriter(context.Background(), t.TempDir(), misuseTable, Options{}, c.deliver)
	if err != nil {
		t.Fatal(err)
	}
	w.Int64(1)
	if _, err := w.Close(context.Background()); !errors.Is(err, ErrMisuse) || !strings.Contains(err.Error(), "Close in the middle of a row") {
		t.Errorf("Close mid-row: %v", err)
	}
	if len(c.files) != 0 {
		t.Errorf("%d files delivered", len(c.files))
	}
}
