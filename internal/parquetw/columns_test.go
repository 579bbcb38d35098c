package parquetw

import (
	"strings"
	"testing"
)

func TestColumns(t *testing.T) {
	got, err := Columns(allKinds)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"s":        "BYTE_ARRAY (STRING)",
		"region":   "BYTE_ARRAY (STRING)",
		"bin":      "BYTE_ARRAY",
		"flag":     "BOOLEAN",
		"i16":      "INT32 (INT(16,true))",
		"i32":      "INT32",
		"i64":      "INT64",
		"f32":      "FLOAT",
		"f64":      "DOUBLE",
		"d9":       "INT32 (DECIMAL(9,2))",
		"d18":      "INT64 (DECIMAL(18,4))",
		"d38":      "FIXED_LEN_BYTE_ARRAY (DECIMAL(38,9))",
		"day":      "INT32 (DATE)",
		"tod":      "INT64 (TIME(MICROS,false))",
		"ts_utc":   "INT64 (TIMESTAMP(MICROS,true))",
		"ts_local": "INT64 (TIMESTAMP(MICROS,false))",
		"id":       "FIXED_LEN_BYTE_ARRAY (UUID)",
		"props":    "BYTE_ARRAY (JSON)",
		"tags":     "LIST<BYTE_ARRAY (STRING)>",
		"scores":   "LIST<INT64>",
		"amounts":  "LIST<FIXED_LEN_BYTE_ARRAY (DECIMAL(38,2))>",
	}
	if len(got) != len(allKinds.Columns) {
		t.Fatalf("%d columns, want %d", len(got), len(allKinds.Columns))
	}
	var lines []string
	for i, c := range got {
		lines = append(lines, c.Name+": "+c.Type)
		if c.Name != allKinds.Columns[i].Name {
			t.Errorf("column %d is %s, want %s (file order)", i, c.Name, allKinds.Columns[i].Name)
		}
		if w, ok := want[c.Name]; ok && c.Type != w {
			t.Errorf("column %s: %q, want %q", c.Name, c.Type, w)
		}
	}
	t.Log("\n" + strings.Join(lines, "\n"))
}
