package sample

import (
	"context"
	"fmt"
	"math/big"
	"testing"
)

// discard is a RowWriter that does nothing, so a benchmark measures
// generation alone.
type discard struct{}

func (discard) Null()           {}
func (discard) Bool(bool)       {}
func (discard) Int32(int32)     {}
func (discard) Int64(int64)     {}
func (discard) BigInt(*big.Int) {}
func (discard) Float32(float32) {}
func (discard) Float64(float64) {}
func (discard) Bytes([]byte)    {}
func (discard) String(string)   {}
func (discard) Fixed([]byte)    {}
func (discard) BeginList(int)   {}
func (discard) EndList()        {}
func (discard) EndRow() error   { return nil }

// BenchmarkReadTable generates b.N rows of each table: ns/op and
// allocs/op are per row.
func BenchmarkReadTable(b *testing.B) {
	for _, table := range TableNames() {
		b.Run(table, func(b *testing.B) {
			rows := map[string]int64{table: int64(b.N)}
			if table == "revenue_attribution" {
				rows["revenue"] = max(1, int64(b.N)/4)
			}
			snap, err := NewSnapshot(Config{Rows: rows}, "acme", []string{table})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			if err := snap.ReadTable(context.Background(), table, discard{}); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkEvents reads the events table at the sizes of the export
// benchmarks; each op is a whole table.
func BenchmarkEvents(b *testing.B) {
	for _, n := range []int64{1_000_000, 5_000_000} {
		b.Run(fmt.Sprintf("%dM", n/1_000_000), func(b *testing.B) {
			snap, err := NewSnapshot(Config{Rows: map[string]int64{"events": n}}, "acme", []string{"events"})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := snap.ReadTable(context.Background(), "events", discard{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkRow measures regeneration of single rows, as end-to-end tests
// do to compare with what was exported.
func BenchmarkRow(b *testing.B) {
	snap, err := NewSnapshot(Config{}, "acme", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var i int64
	for b.Loop() {
		if _, err := snap.Row("events", i%10_000); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
