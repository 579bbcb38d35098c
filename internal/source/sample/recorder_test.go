package sample

import (
	"context"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/schema"
	"github.com/exportd/exportd/internal/source"
)

// allKinds is a table with a column of every kind the Recorder converts.
var allKinds = schema.Table{Name: "kinds", Columns: []schema.Column{
	{Name: "s", Kind: schema.String},
	{Name: "b", Kind: schema.Bytes},
	{Name: "ok", Kind: schema.Bool},
	{Name: "i16", Kind: schema.Int16},
	{Name: "i32", Kind: schema.Int32},
	{Name: "i64", Kind: schema.Int64},
	{Name: "f32", Kind: schema.Float32},
	{Name: "f64", Kind: schema.Float64},
	{Name: "d", Kind: schema.Decimal, Precision: 5, Scale: 2},
	{Name: "wide", Kind: schema.Decimal, Precision: 38, Scale: 9},
	{Name: "day", Kind: schema.Date},
	{Name: "tod", Kind: schema.Time},
	{Name: "ts", Kind: schema.Timestamp, UTC: true},
	{Name: "id", Kind: schema.UUID},
	{Name: "j", Kind: schema.JSON},
	{Name: "l", Kind: schema.List, Nullable: true, Elem: &schema.Column{Kind: schema.String, Nullable: true}},
	{Name: "n", Kind: schema.String, Nullable: true},
}}

// writeAll writes one valid row of allKinds, with f changing one call.
func writeAll(w source.RowWriter, change map[string]func(source.RowWriter)) {
	calls := []struct {
		col  string
		call func(source.RowWriter)
	}{
		{"s", func(w source.RowWriter) { w.String("héllo") }},
		{"b", func(w source.RowWriter) { w.Bytes([]byte{0, 1}) }},
		{"ok", func(w source.RowWriter) { w.Bool(true) }},
		{"i16", func(w source.RowWriter) { w.Int32(-300) }},
		{"i32", func(w source.RowWriter) { w.Int32(7) }},
		{"i64", func(w source.RowWriter) { w.Int64(1 << 40) }},
		{"f32", func(w source.RowWriter) { w.Float32(1.5) }},
		{"f64", func(w source.RowWriter) { w.Float64(0.25) }},
		{"d", func(w source.RowWriter) { w.Int64(-1250) }},
		{"wide", func(w source.RowWriter) {
			v, _ := new(big.Int).SetString("12345678901234567890123", 10)
			w.BigInt(v)
		}},
		{"day", func(w source.RowWriter) { w.Int32(20000) }},
		{"tod", func(w source.RowWriter) { w.Int64(3_600_000_001) }},
		{"ts", func(w source.RowWriter) { w.Int64(1_700_000_000_123_456) }},
		{"id", func(w source.RowWriter) { w.Fixed(make([]byte, 16)) }},
		{"j", func(w source.RowWriter) { w.String(`{"a":[1,2]}`) }},
		{"l", func(w source.RowWriter) {
			w.BeginList(2)
			w.String("x")
			w.Null()
			w.EndList()
		}},
		{"n", func(w source.RowWriter) { w.Null() }},
	}
	for _, c := range calls {
		if f, ok := change[c.col]; ok {
			if f != nil {
				f(w)
			}
			continue
		}
		c.call(w)
	}
}

func TestRecorderValues(t *testing.T) {
	rec := NewRecorder(allKinds)
	writeAll(rec, nil)
	if err := rec.EndRow(); err != nil {
		t.Fatal(err)
	}
	want := []any{
		"héllo", []byte{0, 1}, true, int16(-300), int32(7), int64(1 << 40), float32(1.5), 0.25,
		"-12.50", "12345678901234.567890123",
		time.Date(2024, 10, 4, 0, 0, 0, 0, time.UTC),
		time.Hour + time.Microsecond,
		time.Date(2023, 11, 14, 22, 13, 20, 123456000, time.UTC),
		[16]byte{}, `{"a":[1,2]}`, []any{"x", nil}, nil,
	}
	if got := rec.Rows()[0]; !reflect.DeepEqual(got, want) {
		t.Errorf("row\n got %#v\nwant %#v", got, want)
	}
}

func TestRecorderMisuse(t *testing.T) {
	tests := []struct {
		name   string
		change map[string]func(source.RowWriter)
		want   string
	}{
		{"wrong kind", map[string]func(source.RowWriter){"s": func(w source.RowWriter) { w.Int64(1) }}, "column s (string) Int64: does not fit a string"},
		{"null in a required column", map[string]func(source.RowWriter){"ok": func(w source.RowWriter) { w.Null() }}, "not nullable"},
		{"too few values", map[string]func(source.RowWriter){"n": nil}, "16 values for 17 columns"},
		{"too many values", map[string]func(source.RowWriter){"n": func(w source.RowWriter) { w.Null(); w.Null() }}, "the row already has its 17 values"},
		{"int16 out of range", map[string]func(source.RowWriter){"i16": func(w source.RowWriter) { w.Int32(40000) }}, "outside int16"},
		{"decimal too wide", map[string]func(source.RowWriter){"d": func(w source.RowWriter) { w.Int64(100000) }}, "more than 5 digits"},
		{"invalid JSON", map[string]func(source.RowWriter){"j": func(w source.RowWriter) { w.String("{") }}, "invalid JSON"},
		{"invalid UTF-8", map[string]func(source.RowWriter){"s": func(w source.RowWriter) { w.Bytes([]byte{0xff}) }}, "invalid UTF-8"},
		{"short UUID", map[string]func(source.RowWriter){"id": func(w source.RowWriter) { w.Fixed([]byte{1}) }}, "1 bytes, not 16"},
		{"list too long", map[string]func(source.RowWriter){"l": func(w source.RowWriter) {
			w.BeginList(1)
			w.String("a")
			w.String("b")
			w.EndList()
		}}, "the list already has the 1 elements announced"},
		{"list too short", map[string]func(source.RowWriter){"l": func(w source.RowWriter) { w.BeginList(2); w.String("a"); w.EndList() }}, "1 elements, 2 announced"},
		{"list not ended", map[string]func(source.RowWriter){"l": func(w source.RowWriter) { w.BeginList(0) }, "n": nil}, "list of column l is not ended"},
		{"list in a scalar column", map[string]func(source.RowWriter){"s": func(w source.RowWriter) { w.BeginList(0); w.EndList() }}, "BeginList: does not fit a string"},
		{"end without begin", map[string]func(source.RowWriter){"n": func(w source.RowWriter) { w.EndList() }}, "no list was begun"},
		{"nil big int", map[string]func(source.RowWriter){"wide": func(w source.RowWriter) { w.BigInt(nil) }}, "nil value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := NewRecorder(allKinds)
			writeAll(rec, tc.change)
			err := rec.EndRow()
			if !errors.Is(err, ErrMisuse) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("EndRow() = %v, want ErrMisuse containing %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "row 0: ") {
				t.Errorf("error %q does not name the row", err)
			}
			// The error is final.
			writeAll(rec, nil)
			if again := rec.EndRow(); again != err {
				t.Errorf("next EndRow() = %v, want the first error again", again)
			}
		})
	}
}

func TestDecimalString(t *testing.T) {
	tests := []struct {
		unscaled int64
		scale    int
		want     string
	}{
		{0, 0, "0"},
		{0, 2, "0.00"},
		{5, 2, "0.05"},
		{-5, 2, "-0.05"},
		{123456, 2, "1234.56"},
		{-123456, 0, "-123456"},
		{1, 9, "0.000000001"},
	}
	for _, tc := range tests {
		if got := DecimalString(big.NewInt(tc.unscaled), tc.scale); got != tc.want {
			t.Errorf("DecimalString(%d, %d) = %q, want %q", tc.unscaled, tc.scale, got, tc.want)
		}
	}
}

// failingWriter fails EndRow at row failAt.
type failingWriter struct {
	discard
	rows, failAt int
}

var errFull = errors.New("disk full")

func (w *failingWriter) EndRow() error {
	if w.rows == w.failAt {
		return errFull
	}
	w.rows++
	return nil
}

func TestReadTableReturnsEndRowError(t *testing.T) {
	snap := mustSnapshot(t, Config{}, "acme", "events")
	w := &failingWriter{failAt: 17}
	err := snap.ReadTable(context.Background(), "events", w)
	if !errors.Is(err, errFull) || !strings.Contains(err.Error(), "events, row 17") {
		t.Errorf("ReadTable() = %v, want errFull at row 17", err)
	}
	if w.rows != 17 {
		t.Errorf("wrote %d rows after the error", w.rows-17)
	}
}

// cancellingWriter cancels its context at row cancelAt.
type cancellingWriter struct {
	discard
	rows, cancelAt int
	cancel         func()
}

func (w *cancellingWriter) EndRow() error {
	w.rows++
	if w.rows == w.cancelAt {
		w.cancel()
	}
	return nil
}

func TestReadTableStopsWhenCancelled(t *testing.T) {
	snap := mustSnapshot(t, Config{Rows: map[string]int64{"events": 10_000_000}}, "acme", "events")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancellingWriter{cancelAt: 10_000, cancel: cancel}
	start := time.Now()
	err := snap.ReadTable(ctx, "events", w)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadTable() = %v, want context.Canceled", err)
	}
	if w.rows > w.cancelAt+checkEvery {
		t.Errorf("wrote %d rows after cancellation", w.rows-w.cancelAt)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v to stop", d)
	}

	// A context cancelled before the read writes nothing.
	w = &cancellingWriter{}
	if err := snap.ReadTable(ctx, "events", w); !errors.Is(err, context.Canceled) || w.rows != 0 {
		t.Errorf("ReadTable() = %v after writing %d rows", err, w.rows)
	}
}
