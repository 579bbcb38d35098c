package sample

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/exportd/exportd/internal/schema"
	"github.com/exportd/exportd/internal/source"
)

// ErrMisuse is wrapped by the errors a Recorder returns for calls that
// break the source.RowWriter contract.
var ErrMisuse = errors.New("row writer misuse")

// Recorder is a source.RowWriter that checks every call against a table's
// schema, as strictly as a parquet writer must, and keeps each row as Go
// values in column order. It backs Snapshot.Row and is meant for tests of
// any source.
//
// The Go type of a value depends on the column's kind:
//
//	null                 nil
//	String, JSON         string
//	Bytes                []byte
//	Bool                 bool
//	Int16, Int32, Int64  int16, int32, int64
//	Float32, Float64     float32, float64
//	Decimal              string with exactly Scale fraction digits ("-12.50")
//	Date                 time.Time, midnight UTC
//	Time                 time.Duration since midnight
//	Timestamp            time.Time in UTC, microsecond precision
//	UUID                 [16]byte
//	List                 []any of the element values (empty, not nil, when
//	                     the list is empty)
//
// Besides fitting the kind, values must fit the column: strings are valid
// UTF-8, JSON is valid JSON, Int16 values and decimals are within range,
// only nullable columns and elements are null, a list has as many elements
// as BeginList announced. The first misuse makes EndRow return an error
// wrapping ErrMisuse, then and at every later call.
//
// A Recorder is not safe for concurrent use.
type Recorder struct {
	// OnRow, when set, receives each completed row instead of the Recorder
	// keeping it; the row is the callee's. An error from OnRow is
	// returned by EndRow.
	OnRow func(row []any) error

	cols    []schema.Column
	rows    [][]any
	row     []any
	list    []any // elements of the list being written
	inList  bool
	listLen int   // elements announced by BeginList
	err     error // first misuse in the current row
	final   error // what EndRow returns from now on
	n       int64 // rows completed
}

var _ source.RowWriter = (*Recorder)(nil)

// NewRecorder returns a Recorder for rows of t.
func NewRecorder(t schema.Table) *Recorder {
	return &Recorder{cols: t.Columns, row: make([]any, 0, len(t.Columns))}
}

// Rows returns the rows recorded so far (none when OnRow is set).
func (r *Recorder) Rows() [][]any { return r.rows }

// column returns the column (or list element) the next value is for, and
// nil after recording a misuse.
func (r *Recorder) column(call string) *schema.Column {
	if r.err != nil || r.final != nil {
		return nil
	}
	if len(r.row) >= len(r.cols) {
		r.misuse(call, nil, "the row already has its %d values", len(r.cols))
		return nil
	}
	c := &r.cols[len(r.row)]
	if !r.inList {
		return c
	}
	if len(r.list) >= r.listLen {
		r.misuse(call, c, "the list already has the %d elements announced", r.listLen)
		return nil
	}
	return c.Elem
}

func (r *Recorder) misuse(call string, c *schema.Column, format string, args ...any) {
	if r.err != nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if c == nil {
		r.err = fmt.Errorf("%w: %s: %s", ErrMisuse, call, msg)
		return
	}
	where := fmt.Sprintf("column %s (%s", r.cols[len(r.row)].Name, r.cols[len(r.row)].Kind)
	if r.inList {
		where += fmt.Sprintf(" element %d", len(r.list))
	}
	r.err = fmt.Errorf("%w: %s) %s: %s", ErrMisuse, where, call, msg)
}

func (r *Recorder) add(v any) {
	if r.inList {
		r.list = append(r.list, v)
		return
	}
	r.row = append(r.row, v)
}

// expect returns the column if its kind is one of kinds.
func (r *Recorder) expect(call string, kinds ...schema.Kind) *schema.Column {
	c := r.column(call)
	if c == nil {
		return nil
	}
	for _, k := range kinds {
		if c.Kind == k {
			return c
		}
	}
	r.misuse(call, c, "does not fit a %s", c.Kind)
	return nil
}

// Null records a null value, for nullable columns and elements.
func (r *Recorder) Null() {
	c := r.column("Null")
	switch {
	case c == nil:
	case !c.Nullable:
		r.misuse("Null", c, "not nullable")
	default:
		r.add(nil)
	}
}

// Bool records a Bool value.
func (r *Recorder) Bool(v bool) {
	if r.expect("Bool", schema.Bool) != nil {
		r.add(v)
	}
}

// Int32 records an Int16, Int32 or Date value.
func (r *Recorder) Int32(v int32) {
	c := r.expect("Int32", schema.Int16, schema.Int32, schema.Date)
	switch {
	case c == nil:
	case c.Kind == schema.Int16:
		if v < -1<<15 || v >= 1<<15 {
			r.misuse("Int32", c, "%d is outside int16", v)
			return
		}
		r.add(int16(v))
	case c.Kind == schema.Date:
		r.add(time.Unix(int64(v)*86400, 0).UTC())
	default:
		r.add(v)
	}
}

// Int64 records an Int64, Time, Timestamp or Decimal value.
func (r *Recorder) Int64(v int64) {
	c := r.expect("Int64", schema.Int64, schema.Time, schema.Timestamp, schema.Decimal)
	switch {
	case c == nil:
	case c.Kind == schema.Time:
		r.add(time.Duration(v) * time.Microsecond)
	case c.Kind == schema.Timestamp:
		r.add(time.UnixMicro(v).UTC())
	case c.Kind == schema.Decimal:
		r.decimal("Int64", c, big.NewInt(v))
	default:
		r.add(v)
	}
}

// BigInt records a Decimal value.
func (r *Recorder) BigInt(v *big.Int) {
	c := r.expect("BigInt", schema.Decimal)
	switch {
	case c == nil:
	case v == nil:
		r.misuse("BigInt", c, "nil value")
	default:
		r.decimal("BigInt", c, v)
	}
}

func (r *Recorder) decimal(call string, c *schema.Column, unscaled *big.Int) {
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(c.Precision)), nil)
	if new(big.Int).Abs(unscaled).Cmp(limit) >= 0 {
		r.misuse(call, c, "unscaled value %s has more than %d digits", unscaled, c.Precision)
		return
	}
	r.add(DecimalString(unscaled, c.Scale))
}

// Float32 records a Float32 value.
func (r *Recorder) Float32(v float32) {
	if r.expect("Float32", schema.Float32) != nil {
		r.add(v)
	}
}

// Float64 records a Float64 value.
func (r *Recorder) Float64(v float64) {
	if r.expect("Float64", schema.Float64) != nil {
		r.add(v)
	}
}

// Bytes records a String, JSON or Bytes value.
func (r *Recorder) Bytes(v []byte) {
	c := r.expect("Bytes", schema.String, schema.JSON, schema.Bytes)
	switch {
	case c == nil:
	case c.Kind == schema.Bytes:
		r.add(append([]byte{}, v...))
	default:
		r.text("Bytes", c, string(v))
	}
}

// String records a String, JSON or Bytes value.
func (r *Recorder) String(v string) {
	c := r.expect("String", schema.String, schema.JSON, schema.Bytes)
	switch {
	case c == nil:
	case c.Kind == schema.Bytes:
		r.add([]byte(v))
	default:
		r.text("String", c, v)
	}
}

func (r *Recorder) text(call string, c *schema.Column, v string) {
	switch {
	case !utf8.ValidString(v):
		r.misuse(call, c, "invalid UTF-8 %q", v)
	case c.Kind == schema.JSON && !json.Valid([]byte(v)):
		r.misuse(call, c, "invalid JSON %q", v)
	default:
		r.add(v)
	}
}

// Fixed records a UUID value.
func (r *Recorder) Fixed(v []byte) {
	c := r.expect("Fixed", schema.UUID)
	switch {
	case c == nil:
	case len(v) != 16:
		r.misuse("Fixed", c, "%d bytes, not 16", len(v))
	default:
		r.add([16]byte(v))
	}
}

// BeginList starts a List value of n elements.
func (r *Recorder) BeginList(n int) {
	c := r.column("BeginList")
	switch {
	case c == nil:
	case r.inList:
		r.misuse("BeginList", c, "lists do not nest")
	case c.Kind != schema.List:
		r.misuse("BeginList", c, "does not fit a %s", c.Kind)
	case n < 0:
		r.misuse("BeginList", c, "negative length %d", n)
	default:
		r.inList, r.listLen, r.list = true, n, make([]any, 0, n)
	}
}

// EndList ends the List value begun by BeginList.
func (r *Recorder) EndList() {
	if r.err != nil || r.final != nil {
		return
	}
	if !r.inList {
		r.misuse("EndList", nil, "no list was begun")
		return
	}
	if len(r.list) != r.listLen {
		r.misuse("EndList", &r.cols[len(r.row)], "%d elements, %d announced", len(r.list), r.listLen)
		return
	}
	list := r.list
	r.inList, r.list = false, nil
	r.row = append(r.row, list)
}

// EndRow completes the row. Its error is final: every later call returns
// it too.
func (r *Recorder) EndRow() error {
	if r.final != nil {
		return r.final
	}
	err := r.err
	switch {
	case err != nil:
	case r.inList:
		err = fmt.Errorf("%w: EndRow: the list of column %s is not ended", ErrMisuse, r.cols[len(r.row)].Name)
	case len(r.row) != len(r.cols):
		err = fmt.Errorf("%w: EndRow: %d values for %d columns", ErrMisuse, len(r.row), len(r.cols))
	}
	if err != nil {
		r.final = fmt.Errorf("row %d: %w", r.n, err)
		return r.final
	}
	row := r.row
	r.row = make([]any, 0, len(r.cols))
	r.n++
	if r.OnRow != nil {
		if err := r.OnRow(row); err != nil {
			r.final = err
			return err
		}
		return nil
	}
	r.rows = append(r.rows, row)
	return nil
}

// DecimalString formats a decimal's unscaled value with scale fraction
// digits: DecimalString(big.NewInt(-1250), 2) is "-12.50".
func DecimalString(unscaled *big.Int, scale int) string {
	digits := new(big.Int).Abs(unscaled).String()
	if scale > 0 {
		if len(digits) <= scale {
			digits = strings.Repeat("0", scale-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if unscaled.Sign() < 0 {
		return "-" + digits
	}
	return digits
}
