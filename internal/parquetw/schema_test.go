package parquetw

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/exportd/exportd/internal/schema"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestSchemaGolden checks the schema arrow-go reads from a file against a
// golden file: column order, physical types, logical types (STRING, INT(16),
// DECIMAL, DATE, TIME, TIMESTAMP with its UTC flag, UUID, JSON, 3-level
// LIST) and repetition.
func TestSchemaGolden(t *testing.T) {
	files, _ := writeTable(t, allKinds, Options{}, edgeRows())
	got := openMeta(t, files[0].Path).MetaData().Schema.String()
	golden := filepath.Join("testdata", "all_kinds.schema")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("schema read by arrow-go:\n%s\nwant (%s):\n%s", got, golden, want)
	}
}

// TestGroupKeepsColumnOrder checks the ordered group on its own: its
// printed schema and Go type list the columns in the table's order, which
// parquet.Group (sorted by name) would not.
func TestGroupKeepsColumnOrder(t *testing.T) {
	tbl := schema.Table{Name: "t", Columns: []schema.Column{
		{Name: "zeta", Kind: schema.Int64},
		{Name: "alpha", Kind: schema.String, Nullable: true},
		{Name: "has space", Kind: schema.Bool},
	}}
	s, err := Schema(tbl)
	if err != nil {
		t.Fatal(err)
	}
	want := "message t {\n\trequired int64 zeta (INT(64,true));\n\toptional binary alpha (STRING);\n\trequired boolean has space;\n}"
	if got := s.String(); got != want {
		t.Errorf("schema:\n%s\nwant:\n%s", got, want)
	}
	gt := s.GoType()
	for i, name := range []string{"zeta", "alpha", "has space"} {
		if tag := gt.Field(i).Tag.Get("parquet"); tag != name {
			t.Errorf("Go field %d tagged %q, want %q", i, tag, name)
		}
	}
	row := reflect.New(gt).Elem()
	row.Field(0).SetInt(7)
	if v := s.Fields()[0].Value(row); v.Int() != 7 {
		t.Errorf("field value %v, want 7", v)
	}
	if v := s.Fields()[1].Value(reflect.ValueOf(map[string]any{"alpha": "x"})); v.Interface() != "x" {
		t.Errorf("map field value %v, want x", v)
	}
}
