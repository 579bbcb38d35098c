package parquetw

import (
	"fmt"

	"github.com/exportd/exportd/internal/schema"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// Column is one top-level column of a table's parquet schema, with its
// type as a parquet reader prints it.
type Column struct {
	Name string
	// Type is the physical type and, in parentheses, the logical type:
	// "INT64", "BYTE_ARRAY (STRING)", "INT64 (TIMESTAMP(MICROS,true))",
	// "FIXED_LEN_BYTE_ARRAY (DECIMAL(38,9))". A list is LIST<its
	// element's type>.
	Type string
}

// Columns describes the parquet schema the table's files have (see
// [Schema]): its columns in order, with their types.
func Columns(t schema.Table) ([]Column, error) {
	s, err := Schema(t)
	if err != nil {
		return nil, err
	}
	fields := s.Fields()
	out := make([]Column, len(fields))
	for i, f := range fields {
		out[i] = Column{Name: f.Name(), Type: nodeType(f)}
	}
	return out, nil
}

// nodeType words a node's type. A list's node is the three-level group
// <list> (LIST) { repeated group list { <element> } }.
func nodeType(n parquet.Node) string {
	if !n.Leaf() {
		if fs := n.Fields(); len(fs) == 1 && len(fs[0].Fields()) == 1 {
			return "LIST<" + nodeType(fs[0].Fields()[0]) + ">"
		}
		return "GROUP"
	}
	t := n.Type()
	physical := t.Kind().String()
	lt := t.LogicalType()
	if lt == nil || lt.Value == nil || plainInteger(t.Kind(), lt) {
		return physical
	}
	return physical + " (" + logicalType(lt) + ")"
}

// plainInteger reports a signed integer annotation of the physical type's
// own width (parquet-go writes INT(64,true) on every INT64), which says
// nothing the physical type does not.
func plainInteger(k parquet.Kind, lt *format.LogicalType) bool {
	it, ok := lt.Value.(*format.IntType)
	return ok && it.IsSigned && (k == parquet.Int32 && it.BitWidth == 32 || k == parquet.Int64 && it.BitWidth == 64)
}

// logicalType words a logical type as parquet-cli does, with time units
// and UTC adjustment in the short form "TIMESTAMP(MICROS,true)".
func logicalType(lt *format.LogicalType) string {
	switch v := lt.Value.(type) {
	case *format.TimestampType:
		return fmt.Sprintf("TIMESTAMP(%s,%t)", &v.Unit, v.IsAdjustedToUTC)
	case *format.TimeType:
		return fmt.Sprintf("TIME(%s,%t)", &v.Unit, v.IsAdjustedToUTC)
	}
	return lt.String()
}
