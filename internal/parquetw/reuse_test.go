package parquetw

import (
	"bytes"
	"slices"
	"testing"

	"github.com/exportd/exportd/internal/schema"
)

// TestReusedLaneWritesTheSameFile writes the same rows three times: with a
// new lane, then with that lane taken back from the pool (as a rule:
// sync.Pool promises nothing), a table of another shape in between. The
// files must be byte for byte the same.
func TestReusedLaneWritesTheSameFile(t *testing.T) {
	rows := randomRows(200, 9)
	opts := Options{Lanes: 1, batchRows: 64}
	forgetIdleLanes()
	first, _ := writeTable(t, allKinds, opts, cloneRows(rows))

	// Same name, another shape: it must not get all_kinds's lanes, nor
	// give them a writer built for its schema.
	other := schema.Table{Name: allKinds.Name, Columns: []schema.Column{{Name: "s", Kind: schema.String, Nullable: true}}}
	files, _ := writeTable(t, other, opts, [][]any{{"x"}, {nil}})
	if n := openMeta(t, files[0].Path).MetaData().Schema.NumColumns(); n != 1 {
		t.Fatalf("the one-column table's file has %d columns", n)
	}

	for round := range 2 {
		again, _ := writeTable(t, allKinds, opts, cloneRows(rows))
		if len(again) != len(first) {
			t.Fatalf("round %d: %d files, first time %d", round, len(again), len(first))
		}
		for i := range first {
			if !bytes.Equal(again[i].SHA256, first[i].SHA256) {
				t.Fatalf("round %d: file %d differs from the one a new lane wrote", round, i)
			}
		}
	}
}

func TestLaneKeys(t *testing.T) {
	base := schema.Table{Name: "t", Columns: []schema.Column{
		{Name: "a", Kind: schema.Decimal, Precision: 10, Scale: 2},
		{Name: "b", Kind: schema.List, Elem: &schema.Column{Kind: schema.Int64}},
	}}
	change := func(f func(t *schema.Table)) schema.Table {
		c := base
		c.Columns = slices.Clone(base.Columns)
		e := *base.Columns[1].Elem
		c.Columns[1].Elem = &e
		f(&c)
		return c
	}
	opts := Options{}.withDefaults()
	key := laneKey(&base, &opts)
	for _, tc := range []struct {
		name  string
		table schema.Table
		opts  Options
		same  bool
	}{
		{name: "same shape", table: change(func(*schema.Table) {}), opts: opts, same: true},
		{name: "file size does not matter", table: base, opts: func() Options { o := opts; o.TargetFileSize = 1; return o }(), same: true},
		{name: "table name", table: change(func(t *schema.Table) { t.Name = "u" }), opts: opts},
		{name: "column name", table: change(func(t *schema.Table) { t.Columns[0].Name = "z" }), opts: opts},
		{name: "names cannot run together", table: change(func(t *schema.Table) { t.Name, t.Columns[0].Name = "t1", "" }), opts: opts},
		{name: "nullable", table: change(func(t *schema.Table) { t.Columns[0].Nullable = true }), opts: opts},
		{name: "precision", table: change(func(t *schema.Table) { t.Columns[0].Precision = 11 }), opts: opts},
		{name: "scale", table: change(func(t *schema.Table) { t.Columns[0].Scale = 3 }), opts: opts},
		{name: "low cardinality", table: change(func(t *schema.Table) { t.Columns[1].LowCardinality = true }), opts: opts},
		{name: "element kind", table: change(func(t *schema.Table) { t.Columns[1].Elem.Kind = schema.Int32 }), opts: opts},
		{name: "element nullable", table: change(func(t *schema.Table) { t.Columns[1].Elem.Nullable = true }), opts: opts},
		{name: "extra column", table: change(func(t *schema.Table) { t.Columns = append(t.Columns, schema.Column{Name: "c", Kind: schema.Bool}) }), opts: opts},
		{name: "compression", table: base, opts: func() Options { o := opts; o.Compression = Zstd; return o }()},
		{name: "compression level", table: base, opts: func() Options { o := opts; o.CompressionLevel = 1; return o }()},
		{name: "page size", table: base, opts: func() Options { o := opts; o.PageBufferSize = 64 << 10; return o }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := laneKey(&tc.table, &tc.opts) == key; got != tc.same {
				t.Errorf("same key: %v, want %v", got, tc.same)
			}
		})
	}
}

// forgetIdleLanes empties the lane pools, so that the next writer builds
// new lanes.
func forgetIdleLanes() {
	lanePools.mu.Lock()
	defer lanePools.mu.Unlock()
	lanePools.pools = nil
}
