package parquetw

import (
	"testing"

	"github.com/exportd/exportd/internal/schema"
)

func TestTypeName(t *testing.T) {
	elem := &schema.Column{Kind: schema.String, Nullable: true}
	tests := []struct {
		name string
		c    schema.Column
		want string
	}{
		{"string", schema.Column{Kind: schema.String}, "BYTE_ARRAY (STRING)"},
		{"bytes", schema.Column{Kind: schema.Bytes}, "BYTE_ARRAY"},
		{"bool", schema.Column{Kind: schema.Bool}, "BOOLEAN"},
		{"int16", schema.Column{Kind: schema.Int16}, "INT32 (INT(16,true))"},
		{"int32", schema.Column{Kind: schema.Int32}, "INT32 (INT(32,true))"},
		{"int64", schema.Column{Kind: schema.Int64}, "INT64 (INT(64,true))"},
		{"float", schema.Column{Kind: schema.Float32}, "FLOAT"},
		{"double", schema.Column{Kind: schema.Float64}, "DOUBLE"},
		{"small decimal", schema.Column{Kind: schema.Decimal, Precision: 9, Scale: 2}, "INT32 (DECIMAL(9,2))"},
		{"decimal", schema.Column{Kind: schema.Decimal, Precision: 18, Scale: 4}, "INT64 (DECIMAL(18,4))"},
		{"wide decimal", schema.Column{Kind: schema.Decimal, Precision: 38, Scale: 9}, "FIXED_LEN_BYTE_ARRAY (DECIMAL(38,9))"},
		{"date", schema.Column{Kind: schema.Date}, "INT32 (DATE)"},
		{"time", schema.Column{Kind: schema.Time}, "INT64 (TIME(MICROS,false))"},
		{"timestamptz", schema.Column{Kind: schema.Timestamp, UTC: true}, "INT64 (TIMESTAMP(MICROS,true))"},
		{"timestamp", schema.Column{Kind: schema.Timestamp}, "INT64 (TIMESTAMP(MICROS,false))"},
		{"uuid", schema.Column{Kind: schema.UUID}, "FIXED_LEN_BYTE_ARRAY (UUID)"},
		{"json", schema.Column{Kind: schema.JSON}, "BYTE_ARRAY (JSON)"},
		{"list", schema.Column{Kind: schema.List, Elem: elem}, "LIST<BYTE_ARRAY (STRING)>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TypeName(tt.c); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
