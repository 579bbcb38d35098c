package parquetw

import (
	"fmt"
	"math"
	"math/big"

	"github.com/exportd/exportd/internal/schema"
	"github.com/parquet-go/parquet-go"
)

// maxTimeMicros is 24:00:00, the largest time of day PostgreSQL stores.
const maxTimeMicros = 24 * 60 * 60 * 1_000_000

// slot describes where one value call lands: a top-level column or a list
// element, with the definition levels its values carry.
type slot struct {
	kind      schema.Kind
	nullable  bool
	phys      physical // decimals only
	precision int      // decimals only
	def       int      // definition level of a present value
	nullDef   int      // definition level of a NULL
	desc      string   // for errors: "column of kind decimal(12,2)"
}

// column is one table column: what its values must be and how they are
// leveled. The values themselves are gathered in a [batch].
type column struct {
	name     string
	top      slot
	elem     slot // list columns only
	emptyDef int  // definition level of an empty list
}

// rowBuilder turns the typed RowWriter calls into parquet values with their
// repetition and definition levels, one slice per column, and checks every
// call against the table. The first misuse is kept and ends the table.
type rowBuilder struct {
	table string
	cols  []column
	cur   batch // the batch being gathered

	col      int  // column the next value belongs to
	inList   bool // between BeginList and EndList
	rep      int  // repetition level of the next list element
	listWant int  // length announced by BeginList
	listHave int  // elements written so far

	rows     int64 // rows completed, also the index of the current row
	batchCap int   // the most rows a batch holds
	err      error // first misuse, or the writer's terminal error
}

func newRowBuilder(t *schema.Table, batchRows int) rowBuilder {
	b := rowBuilder{table: t.Name, cols: make([]column, len(t.Columns)), batchCap: batchRows}
	for i := range t.Columns {
		c := &t.Columns[i]
		col := &b.cols[i]
		col.name = c.Name
		col.top = newSlot(c, "column")
		if col.top.nullable {
			col.top.def = 1
		}
		if c.Kind == schema.List {
			col.emptyDef = col.top.def
			col.elem = newSlot(c.Elem, "list element")
			col.elem.def = col.emptyDef + 1
			if col.elem.nullable {
				col.elem.nullDef = col.elem.def
				col.elem.def++
			}
			col.top.desc = fmt.Sprintf("column of kind list<%s>", kindDesc(c.Elem))
		}
	}
	b.cur.values = b.newValues()
	return b
}

// newValues returns empty value slices for a batch, one per column. They
// start small and grow with the rows, once: a batch keeps its slices from
// one use to the next, so a big table soon stops allocating, and a table of
// a few rows does not pay for a full batch of values per column.
func (b *rowBuilder) newValues() [][]parquet.Value {
	values := make([][]parquet.Value, len(b.cols))
	for i := range b.cols {
		n := min(b.batchCap, initialBatchValues)
		if b.cols[i].top.kind == schema.List {
			n *= 4 // lists are assumed to hold a few elements on average
		}
		values[i] = make([]parquet.Value, 0, n)
	}
	return values
}

// initialBatchValues is the first capacity of a batch's value slices.
const initialBatchValues = 16

func newSlot(c *schema.Column, what string) slot {
	s := slot{kind: c.Kind, nullable: c.Nullable, desc: what + " of kind " + kindDesc(c)}
	if c.Kind == schema.Decimal {
		s.phys = decimalPhysical(c.Precision)
		s.precision = c.Precision
	}
	return s
}

func kindDesc(c *schema.Column) string {
	switch c.Kind {
	case schema.Decimal:
		return fmt.Sprintf("decimal(%d,%d)", c.Precision, c.Scale)
	case schema.Timestamp:
		if c.UTC {
			return "timestamp (UTC)"
		}
		return "timestamp"
	default:
		return c.Kind.String()
	}
}

// fail records a misuse unless an error is already recorded.
func (b *rowBuilder) fail(format string, args ...any) {
	if b.err != nil {
		return
	}
	e := &MisuseError{Table: b.table, Row: b.rows, Reason: fmt.Sprintf(format, args...)}
	if b.col < len(b.cols) {
		e.Column = b.cols[b.col].name
		if b.inList {
			e.Column = fmt.Sprintf("%s element %d", e.Column, b.listHave)
		}
	}
	b.err = e
}

// next returns the slot of the next value, or nil when the value must be
// dropped (an error is recorded).
func (b *rowBuilder) next(call string) *slot {
	if b.err != nil {
		return nil
	}
	if b.col >= len(b.cols) {
		b.fail("%s after the row's %d values", call, len(b.cols))
		return nil
	}
	if b.inList {
		return &b.cols[b.col].elem
	}
	return &b.cols[b.col].top
}

func (b *rowBuilder) mismatch(call string, s *slot) {
	if s.kind == schema.List {
		b.fail("%s does not fit a %s (want BeginList or Null)", call, s.desc)
		return
	}
	b.fail("%s does not fit a %s", call, s.desc)
}

// put appends a value to the current column at definition level def.
// The single-field setters inline where Value.Level does not; a fresh
// value's repetition level is already 0.
func (b *rowBuilder) put(v parquet.Value, def int) {
	values := &b.cur.values[b.col]
	v.SetDefinitionLevel(def)
	v.SetColumnIndex(b.col)
	if b.inList {
		v.SetRepetitionLevel(b.rep)
		b.rep = 1
		b.listHave++
	} else {
		b.col++
	}
	*values = append(*values, v)
}

// Null writes a NULL into a nullable column or list element, or a null
// list into a nullable list column.
func (b *rowBuilder) Null() {
	s := b.next("Null")
	if s == nil {
		return
	}
	if !s.nullable {
		b.fail("Null in a non-nullable %s", s.desc)
		return
	}
	b.put(parquet.NullValue(), s.nullDef)
}

// Bool writes a Bool column.
func (b *rowBuilder) Bool(v bool) {
	s := b.next("Bool")
	if s == nil {
		return
	}
	if s.kind != schema.Bool {
		b.mismatch("Bool", s)
		return
	}
	b.put(parquet.BooleanValue(v), s.def)
}

// Int32 writes an Int16, Int32 or Date (days since 1970-01-01) column.
func (b *rowBuilder) Int32(v int32) {
	s := b.next("Int32")
	if s == nil {
		return
	}
	switch s.kind {
	case schema.Int32, schema.Date:
	case schema.Int16:
		if v < math.MinInt16 || v > math.MaxInt16 {
			b.fail("Int32 %d out of range for an int16 column", v)
			return
		}
	default:
		b.mismatch("Int32", s)
		return
	}
	b.put(parquet.Int32Value(v), s.def)
}

// Int64 writes an Int64, Time or Timestamp (microseconds) column, or the
// unscaled value of a Decimal column.
func (b *rowBuilder) Int64(v int64) {
	s := b.next("Int64")
	if s == nil {
		return
	}
	switch s.kind {
	case schema.Int64, schema.Timestamp:
		b.put(parquet.Int64Value(v), s.def)
	case schema.Time:
		if v < 0 || v > maxTimeMicros {
			b.fail("Int64 %d is not a time of day in microseconds (0..%d)", v, int64(maxTimeMicros))
			return
		}
		b.put(parquet.Int64Value(v), s.def)
	case schema.Decimal:
		if !int64FitsPrecision(v, s.precision) {
			b.fail("unscaled value %d has more than %d digits", v, s.precision)
			return
		}
		switch s.phys {
		case physInt32:
			b.put(parquet.Int32Value(int32(v)), s.def)
		case physInt64:
			b.put(parquet.Int64Value(v), s.def)
		default:
			buf := b.cur.arena.alloc(decimalWidth)
			putFixedInt64(buf, v)
			b.put(parquet.FixedLenByteArrayValue(buf), s.def)
		}
	default:
		b.mismatch("Int64", s)
	}
}

// BigInt writes the unscaled value of a Decimal column of any precision.
func (b *rowBuilder) BigInt(v *big.Int) {
	s := b.next("BigInt")
	if s == nil {
		return
	}
	if s.kind != schema.Decimal {
		b.mismatch("BigInt", s)
		return
	}
	if v == nil {
		b.fail("BigInt(nil): use Null for NULL")
		return
	}
	if v.CmpAbs(bigPow10[s.precision]) >= 0 {
		b.fail("unscaled value %s has more than %d digits", v, s.precision)
		return
	}
	switch s.phys {
	case physInt32:
		b.put(parquet.Int32Value(int32(v.Int64())), s.def)
	case physInt64:
		b.put(parquet.Int64Value(v.Int64()), s.def)
	default:
		buf := b.cur.arena.alloc(decimalWidth)
		putFixedBig(buf, v)
		b.put(parquet.FixedLenByteArrayValue(buf), s.def)
	}
}

// Float32 writes a Float32 column.
func (b *rowBuilder) Float32(v float32) {
	s := b.next("Float32")
	if s == nil {
		return
	}
	if s.kind != schema.Float32 {
		b.mismatch("Float32", s)
		return
	}
	b.put(parquet.FloatValue(v), s.def)
}

// Float64 writes a Float64 column.
func (b *rowBuilder) Float64(v float64) {
	s := b.next("Float64")
	if s == nil {
		return
	}
	if s.kind != schema.Float64 {
		b.mismatch("Float64", s)
		return
	}
	b.put(parquet.DoubleValue(v), s.def)
}

// Bytes writes a String, JSON or Bytes column. v is copied.
func (b *rowBuilder) Bytes(v []byte) {
	s := b.next("Bytes")
	if s == nil {
		return
	}
	if !isByteArray(s.kind) {
		b.mismatch("Bytes", s)
		return
	}
	b.put(parquet.ByteArrayValue(b.cur.arena.copyBytes(v)), s.def)
}

// String writes a String, JSON or Bytes column.
func (b *rowBuilder) String(v string) {
	s := b.next("String")
	if s == nil {
		return
	}
	if !isByteArray(s.kind) {
		b.mismatch("String", s)
		return
	}
	b.put(parquet.ByteArrayValue(b.cur.arena.copyString(v)), s.def)
}

func isByteArray(k schema.Kind) bool {
	return k == schema.String || k == schema.JSON || k == schema.Bytes
}

// Fixed writes a UUID column: exactly 16 bytes, copied.
func (b *rowBuilder) Fixed(v []byte) {
	s := b.next("Fixed")
	if s == nil {
		return
	}
	if s.kind != schema.UUID {
		b.mismatch("Fixed", s)
		return
	}
	if len(v) != 16 {
		b.fail("Fixed of %d bytes for a uuid (want 16)", len(v))
		return
	}
	b.put(parquet.FixedLenByteArrayValue(b.cur.arena.copyBytes(v)), s.def)
}

// BeginList starts a list of n elements in a List column.
func (b *rowBuilder) BeginList(n int) {
	if b.err != nil {
		return
	}
	if b.inList {
		b.fail("BeginList inside a list (nested lists are not supported)")
		return
	}
	s := b.next("BeginList")
	if s == nil {
		return
	}
	if s.kind != schema.List {
		b.mismatch("BeginList", s)
		return
	}
	if n < 0 {
		b.fail("BeginList(%d): negative length", n)
		return
	}
	b.inList, b.rep, b.listWant, b.listHave = true, 0, n, 0
}

// EndList completes the list BeginList started.
func (b *rowBuilder) EndList() {
	if b.err != nil {
		return
	}
	if !b.inList {
		b.fail("EndList without BeginList")
		return
	}
	if b.listHave != b.listWant {
		b.fail("BeginList(%d) followed by %d elements", b.listWant, b.listHave)
		return
	}
	b.inList = false
	if b.listHave == 0 {
		values := &b.cur.values[b.col]
		*values = append(*values, parquet.NullValue().Level(0, b.cols[b.col].emptyDef, b.col))
	}
	b.col++
}

// endRow checks that the row is complete and counts it.
func (b *rowBuilder) endRow() error {
	if b.err != nil {
		return b.err
	}
	if b.inList {
		b.fail("row ended inside a list (EndList missing)")
		return b.err
	}
	if b.col != len(b.cols) {
		n := b.col
		b.col = len(b.cols) // name no column: the row as a whole is short
		b.fail("row has %d values, table has %d columns", n, len(b.cols))
		return b.err
	}
	b.col = 0
	b.rows++
	b.cur.rows++
	return nil
}
