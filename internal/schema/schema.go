// Package schema describes the tables of a dump: their names, their columns and
// each column's logical type. It is the contract between a source, which
// discovers or declares tables, and the parquet writers, which encode them.
//
// It knows nothing of where rows come from or how they are stored.
package schema

import (
	"errors"
	"fmt"
)

// Kind is the logical type of a column.
type Kind uint8

// The logical types a column can have. Each maps to exactly one parquet
// physical and logical type (see package parquetw).
const (
	Invalid   Kind = iota
	String         // UTF-8 text: STRING
	Bytes          // opaque bytes: BYTE_ARRAY without annotation
	Bool           // BOOLEAN
	Int16          // INT32 annotated INT(16, signed)
	Int32          // INT32
	Int64          // INT64
	Float32        // FLOAT
	Float64        // DOUBLE
	Decimal        // DECIMAL(Precision, Scale)
	Date           // DATE: days since 1970-01-01
	Time           // TIME(MICROS), not adjusted to UTC
	Timestamp      // TIMESTAMP(MICROS); UTC selects isAdjustedToUTC
	UUID           // UUID: 16-byte fixed
	JSON           // JSON text
	List           // 3-level LIST of Elem
)

var kindNames = [...]string{
	Invalid:   "invalid",
	String:    "string",
	Bytes:     "bytes",
	Bool:      "bool",
	Int16:     "int16",
	Int32:     "int32",
	Int64:     "int64",
	Float32:   "float32",
	Float64:   "float64",
	Decimal:   "decimal",
	Date:      "date",
	Time:      "time",
	Timestamp: "timestamp",
	UUID:      "uuid",
	JSON:      "json",
	List:      "list",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// MaxDecimalPrecision is the largest decimal precision a column may declare:
// the widest that fits the 16-byte fixed representation every reader accepts.
const MaxDecimalPrecision = 38

// Column is one column of a table.
type Column struct {
	Name     string
	Kind     Kind
	Nullable bool

	// Precision and Scale apply to Decimal columns.
	Precision int
	Scale     int

	// UTC applies to Timestamp columns: true for instants (timestamptz),
	// false for wall-clock times without a zone.
	UTC bool

	// Elem is the element type of a List column. Its Name is ignored.
	Elem *Column

	// LowCardinality hints that the column holds few distinct values, so
	// the writer dictionary-encodes it.
	LowCardinality bool
}

// Table is a named, ordered list of columns.
type Table struct {
	Name    string
	Columns []Column
}

// Validate reports the first problem that would stop the table from being
// encoded, naming the table and column.
func (t *Table) Validate() error {
	if t.Name == "" {
		return errors.New("table has no name")
	}
	if len(t.Columns) == 0 {
		return fmt.Errorf("table %s has no columns", t.Name)
	}
	seen := make(map[string]bool, len(t.Columns))
	for i := range t.Columns {
		c := &t.Columns[i]
		if c.Name == "" {
			return fmt.Errorf("table %s: column %d has no name", t.Name, i)
		}
		if seen[c.Name] {
			return fmt.Errorf("table %s: column %s appears twice", t.Name, c.Name)
		}
		seen[c.Name] = true
		if err := c.validate(true); err != nil {
			return fmt.Errorf("table %s: column %s: %w", t.Name, c.Name, err)
		}
	}
	return nil
}

func (c *Column) validate(top bool) error {
	switch c.Kind {
	case String, Bytes, Bool, Int16, Int32, Int64, Float32, Float64,
		Date, Time, Timestamp, UUID, JSON:
	case Decimal:
		if c.Precision < 1 || c.Precision > MaxDecimalPrecision {
			return fmt.Errorf("decimal precision %d outside 1..%d", c.Precision, MaxDecimalPrecision)
		}
		if c.Scale < 0 || c.Scale > c.Precision {
			return fmt.Errorf("decimal scale %d outside 0..%d", c.Scale, c.Precision)
		}
	case List:
		if !top {
			return errors.New("nested lists are not supported")
		}
		if c.Elem == nil {
			return errors.New("list without element type")
		}
		if err := c.Elem.validate(false); err != nil {
			return fmt.Errorf("list element: %w", err)
		}
	default:
		return fmt.Errorf("unsupported kind %v", c.Kind)
	}
	return nil
}
