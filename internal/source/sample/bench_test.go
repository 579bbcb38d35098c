package sample

import (
	"context"
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
