package parquetw

import (
	"fmt"

	"github.com/exportd/exportd/internal/schema"
	"github.com/parquet-go/parquet-go/format"
)

// TypeName is a column's parquet type as a reader prints it, for
// manifests that describe a dump's schema: the physical type of the node
// Schema maps the column onto, then its logical type in parentheses when
// it has one ("BYTE_ARRAY (STRING)", "INT64 (TIMESTAMP(MICROS,true))",
// "FIXED_LEN_BYTE_ARRAY (DECIMAL(38,9))"); a list is "LIST<element>".
func TypeName(c schema.Column) string {
	if c.Kind == schema.List {
		if c.Elem == nil {
			return "LIST"
		}
		return "LIST<" + TypeName(*c.Elem) + ">"
	}
	t := leafNode(&c, false).Type()
	name := t.Kind().String()
	lt := t.LogicalType()
	if lt == nil || lt.Value == nil {
		return name
	}
	switch v := lt.Value.(type) {
	case *format.TimestampType:
		return fmt.Sprintf("%s (TIMESTAMP(%s,%t))", name, &v.Unit, v.IsAdjustedToUTC)
	case *format.TimeType:
		return fmt.Sprintf("%s (TIME(%s,%t))", name, &v.Unit, v.IsAdjustedToUTC)
	}
	return name + " (" + lt.String() + ")"
}
