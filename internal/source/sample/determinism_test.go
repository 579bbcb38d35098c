package sample

import (
	"context"
	"reflect"
	"sync"
	"testing"
)

func TestSameConfigSameRows(t *testing.T) {
	cfg := Config{Seed: 42, Scale: 0.5}
	order := TableNames()
	reversed := make([]string, len(order))
	for k, n := range order {
		reversed[len(order)-1-k] = n
	}
	a := mustSnapshot(t, cfg, "acme", order...)
	b := mustSnapshot(t, cfg, "acme", reversed...)

	// Read a's tables one after the other and b's all at once, in the
	// opposite order.
	want := map[string][][]any{}
	for _, n := range order {
		want[n] = readAll(t, a, n)
	}
	got := map[string][][]any{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range reversed {
		wg.Go(func() {
			rec := NewRecorder(schemaOf(t, b, n))
			if err := b.ReadTable(context.Background(), n, rec); err != nil {
				t.Error(err)
			}
			rows := rec.Rows()
			mu.Lock()
			got[n] = rows
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, n := range order {
		if len(want[n]) == 0 {
			t.Errorf("%s: no rows", n)
		}
		if !reflect.DeepEqual(got[n], want[n]) {
			t.Errorf("%s: rows differ between two snapshots of one configuration", n)
		}
	}
}

// TestRowsDoNotDependOnSelection checks that exporting a subset of the
// tables gives the same rows for those tables.
func TestRowsDoNotDependOnSelection(t *testing.T) {
	all := mustSnapshot(t, Config{Seed: 3}, "acme")
	one := mustSnapshot(t, Config{Seed: 3, Tables: []string{"revenue_attribution"}}, "acme")
	if !reflect.DeepEqual(readAll(t, one, "revenue_attribution"), readAll(t, all, "revenue_attribution")) {
		t.Error("revenue_attribution differs when exported alone")
	}
}

func TestInputsChangeRows(t *testing.T) {
	base := mustSnapshot(t, Config{Seed: 1}, "acme")
	tests := []struct {
		name string
		snap *Snapshot
	}{
		{"seed", mustSnapshot(t, Config{Seed: 2}, "acme")},
		{"account", mustSnapshot(t, Config{Seed: 1}, "globex")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range TableNames() {
				want, got := readAll(t, base, n), readAll(t, tc.snap, n)
				same := 0
				for i := range min(len(want), len(got)) {
					if reflect.DeepEqual(want[i], got[i]) {
						same++
					}
				}
				if same > 0 {
					t.Errorf("%s: %d identical rows", n, same)
				}
			}
		})
	}
}

func TestDefaultSeed(t *testing.T) {
	a := mustSnapshot(t, Config{}, "acme", "companies")
	b := mustSnapshot(t, Config{Seed: DefaultSeed}, "acme", "companies")
	if !reflect.DeepEqual(readAll(t, a, "companies"), readAll(t, b, "companies")) {
		t.Error("seed 0 does not mean DefaultSeed")
	}
}

// TestRowMatchesReadTable checks the regeneration API against what an
// export writes, for every table.
func TestRowMatchesReadTable(t *testing.T) {
	snap := mustSnapshot(t, Config{Seed: 9, Scale: 0.3}, "acme")
	for _, n := range TableNames() {
		rows := readAll(t, snap, n)
		count, err := snap.RowCount(n)
		if err != nil || count != int64(len(rows)) {
			t.Fatalf("%s: RowCount = %d, %v; ReadTable wrote %d", n, count, err, len(rows))
		}
		for _, i := range []int64{0, 1, count / 2, count - 1} {
			row, err := snap.Row(n, i)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(row, rows[i]) {
				t.Errorf("%s row %d:\nRow       %v\nReadTable %v", n, i, row, rows[i])
			}
		}
		var i int
		for row, err := range snap.Rows(n) {
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(row, rows[i]) {
				t.Fatalf("%s: Rows yields a different row %d", n, i)
			}
			i++
		}
		if i != len(rows) {
			t.Errorf("%s: Rows yielded %d rows, want %d", n, i, len(rows))
		}
	}
}

func TestRowErrors(t *testing.T) {
	snap := mustSnapshot(t, Config{}, "acme", "events")
	tests := []struct {
		name  string
		table string
		i     int64
	}{
		{"negative", "events", -1},
		{"past the end", "events", 10_000},
		{"table not in snapshot", "companies", 0},
		{"unknown table", "nope", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := snap.Row(tc.table, tc.i); err == nil {
				t.Error("no error")
			}
		})
	}
	for _, err := range snap.Rows("nope") {
		if err == nil {
			t.Error("Rows of an unknown table yields no error")
		}
	}
}

func TestConcurrentReadsOfOneTable(t *testing.T) {
	snap := mustSnapshot(t, Config{Scale: 0.2}, "acme", "events")
	want := readAll(t, snap, "events")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			rec := NewRecorder(Tables()[events])
			if err := snap.ReadTable(context.Background(), "events", rec); err != nil {
				t.Error(err)
				return
			}
			if !reflect.DeepEqual(rec.Rows(), want) {
				t.Error("concurrent read differs")
			}
		})
	}
	wg.Wait()
}
