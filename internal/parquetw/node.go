package parquetw

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/exportd/exportd/internal/schema"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"
)

// Schema maps a table onto a parquet schema named after the table, with one
// top-level field per column, in the table's column order:
//
//	String     BYTE_ARRAY (STRING)
//	Bytes      BYTE_ARRAY
//	Bool       BOOLEAN
//	Int16      INT32 (INT(16, signed))
//	Int32      INT32
//	Int64      INT64
//	Float32    FLOAT
//	Float64    DOUBLE
//	Decimal    DECIMAL(p, s) on INT32 (p ≤ 9), INT64 (p ≤ 18) or
//	           FIXED_LEN_BYTE_ARRAY(16) (p ≤ 38)
//	Date       INT32 (DATE)
//	Time       INT64 (TIME(MICROS, isAdjustedToUTC=false))
//	Timestamp  INT64 (TIMESTAMP(MICROS, isAdjustedToUTC=Column.UTC))
//	UUID       FIXED_LEN_BYTE_ARRAY(16) (UUID)
//	JSON       BYTE_ARRAY (JSON)
//	List       optional|required group (LIST) {
//	             repeated group list { optional|required <elem> element } }
//
// Nullable columns are OPTIONAL, the others REQUIRED. LowCardinality columns
// are dictionary encoded (RLE_DICTIONARY); other columns are PLAIN, which
// every reader supports. It reports the table's first validation problem.
func Schema(t schema.Table) (*parquet.Schema, error) {
	if err := checkTable(&t); err != nil {
		return nil, err
	}
	g := &group{fields: make([]parquet.Field, len(t.Columns))}
	for i := range t.Columns {
		g.fields[i] = &field{Node: columnNode(&t.Columns[i]), name: t.Columns[i].Name, index: i}
	}
	return parquet.NewSchema(t.Name, g), nil
}

// checkTable reports the first problem that stops a table from being
// mapped onto a parquet schema.
func checkTable(t *schema.Table) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if len(t.Columns) > parquet.MaxColumnIndex+1 {
		return fmt.Errorf("table %s has %d columns, more than parquet's %d", t.Name, len(t.Columns), parquet.MaxColumnIndex+1)
	}
	return nil
}

// columnNode maps a validated top-level column.
func columnNode(c *schema.Column) parquet.Node {
	var n parquet.Node
	if c.Kind == schema.List {
		elem := leafNode(c.Elem, c.LowCardinality)
		if c.Elem.Nullable {
			elem = parquet.Optional(elem)
		} else {
			elem = parquet.Required(elem)
		}
		n = parquet.List(elem)
	} else {
		n = leafNode(c, c.LowCardinality)
	}
	if c.Nullable {
		return parquet.Optional(n)
	}
	return parquet.Required(n)
}

// leafNode maps a scalar kind, with its encoding.
func leafNode(c *schema.Column, lowCardinality bool) parquet.Node {
	var n parquet.Node
	switch c.Kind {
	case schema.String:
		n = parquet.String()
	case schema.Bytes:
		n = parquet.Leaf(parquet.ByteArrayType)
	case schema.Bool:
		n = parquet.Leaf(parquet.BooleanType)
	case schema.Int16:
		n = parquet.Int(16)
	case schema.Int32:
		n = parquet.Leaf(parquet.Int32Type)
	case schema.Int64:
		n = parquet.Leaf(parquet.Int64Type)
	case schema.Float32:
		n = parquet.Leaf(parquet.FloatType)
	case schema.Float64:
		n = parquet.Leaf(parquet.DoubleType)
	case schema.Decimal:
		n = decimalNode(c.Precision, c.Scale)
	case schema.Date:
		n = parquet.Date()
	case schema.Time:
		n = parquet.TimeAdjusted(parquet.Microsecond, false)
	case schema.Timestamp:
		n = parquet.TimestampAdjusted(parquet.Microsecond, c.UTC)
	case schema.UUID:
		n = parquet.UUID()
	case schema.JSON:
		n = parquet.JSON()
	default:
		// Unreachable for a validated table.
		panic(fmt.Sprintf("parquetw: no parquet type for kind %v", c.Kind))
	}
	return parquet.Encoded(n, columnEncoding(c, lowCardinality))
}

// columnEncoding picks a leaf's encoding. Only the encodings every common
// reader decodes are used: PLAIN and RLE_DICTIONARY. parquet-go would pick
// DELTA_LENGTH_BYTE_ARRAY for byte arrays, and DELTA_BINARY_PACKED would
// shrink timestamp columns by 24–38% (4% of an events file under gzip),
// but Spark's vectorized reader rejects DELTA_BINARY_PACKED before 3.3 and
// a standalone DELTA_LENGTH_BYTE_ARRAY before 3.4 (SPARK-36879,
// SPARK-40128), as do other engines' vectorized readers, and customers'
// loaders are not ours to pick.
func columnEncoding(c *schema.Column, lowCardinality bool) encoding.Encoding {
	dictionary := lowCardinality && c.Kind != schema.Bool &&
		// The 16-byte decimal keeps PLAIN: a dictionary would compute page
		// bounds with the unsigned byte order signedDecimal corrects.
		!(c.Kind == schema.Decimal && decimalPhysical(c.Precision) == physFixed)
	if dictionary {
		return &parquet.RLEDictionary
	}
	return &parquet.Plain
}

// group is a parquet group whose fields keep the order they were given in.
// parquet.Group is a map and sorts its fields by name, which would reorder
// a table's columns.
type group struct {
	fields []parquet.Field
}

func (g *group) ID() int                     { return 0 }
func (g *group) Type() parquet.Type          { return parquet.Group{}.Type() }
func (g *group) Optional() bool              { return false }
func (g *group) Repeated() bool              { return false }
func (g *group) Required() bool              { return true }
func (g *group) Leaf() bool                  { return false }
func (g *group) Fields() []parquet.Field     { return g.fields }
func (g *group) Encoding() encoding.Encoding { return nil }
func (g *group) Compression() compress.Codec { return nil }
func (g *group) String() string              { return printNode(g) }
func (g *group) GoType() reflect.Type        { return g.goType() }

// goType is a struct with one field per column, in order. Column names need
// not be Go identifiers, so the fields are named C0, C1, … and carry the
// column name in their parquet tag. Nothing on the write path uses it.
func (g *group) goType() reflect.Type {
	fields := make([]reflect.StructField, len(g.fields))
	for i, f := range g.fields {
		fields[i] = reflect.StructField{
			Name: "C" + strconv.Itoa(i),
			Type: f.GoType(),
			Tag:  reflect.StructTag(`parquet:` + strconv.Quote(f.Name())),
		}
	}
	return reflect.StructOf(fields)
}

// field is one column of a group.
type field struct {
	parquet.Node
	name  string
	index int
}

func (f *field) Name() string { return f.name }

// Value returns the field of a struct of the group's GoType, or the entry
// of a map keyed by column name.
func (f *field) Value(base reflect.Value) reflect.Value {
	for base.Kind() == reflect.Interface || base.Kind() == reflect.Pointer {
		if base.IsNil() {
			return reflect.Value{}
		}
		base = base.Elem()
	}
	switch base.Kind() {
	case reflect.Struct:
		if f.index < base.NumField() {
			return base.Field(f.index)
		}
	case reflect.Map:
		if base.Type().Key().Kind() == reflect.String {
			return base.MapIndex(reflect.ValueOf(f.name).Convert(base.Type().Key()))
		}
	}
	return reflect.Value{}
}

func printNode(n parquet.Node) string {
	var b strings.Builder
	if err := parquet.PrintSchema(&b, "", n); err != nil {
		return "<" + err.Error() + ">"
	}
	return b.String()
}
