package parquetw

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
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
