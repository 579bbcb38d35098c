package parquetw

import (
	"slices"
	"testing"
)

// TestEveryFileNamesItsColumns checks the path_in_schema of every column
// chunk of every file. A parquet writer reused for another file (every
// file of a lane after its first) used to write [""] there: parquet-go's
// Reset clears the strings its column writers keep the paths in (its issue
// 602, open in v0.32.0). arrow-go reads such files, so the round-trip
// tests did not notice, but parquet-mr and Trino look columns up by that
// path: Spark and Athena fail on them ("not found in message").
func TestEveryFileNamesItsColumns(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{name: "one lane", opts: Options{TargetFileSize: 1, batchRows: 50, Lanes: 1}},
		{name: "two lanes", opts: Options{TargetFileSize: 1, batchRows: 50, Lanes: 2, soloBatches: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Twice: the second writer may take the first one's lanes.
			for round := range 2 {
				files, _ := writeTable(t, allKinds, tc.opts, randomRows(300, uint64(round)))
				if len(files) < 3 {
					t.Fatalf("%d files; the test wants several per lane", len(files))
				}
				for _, f := range files {
					checkColumnPaths(t, f)
				}
			}
		})
	}
}

// checkColumnPaths compares each column chunk's path_in_schema with the
// path of its column in the file's schema.
func checkColumnPaths(t *testing.T, f File) {
	t.Helper()
	md := openMeta(t, f.Path).MetaData()
	for rg := 0; rg < md.NumRowGroups(); rg++ {
		group := md.RowGroup(rg)
		for c := 0; c < md.Schema.NumColumns(); c++ {
			want := md.Schema.Column(c).ColumnPath()
			chunk, err := group.ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			if got := chunk.PathInSchema(); !slices.Equal(got, want) {
				t.Fatalf("file %d, row group %d, column %d: path_in_schema %q, want %q", f.Index, rg, c, []string(got), []string(want))
			}
		}
	}
}
