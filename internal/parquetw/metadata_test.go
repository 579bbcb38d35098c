package parquetw

import (
	"math/big"
	"slices"
	"testing"

	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/exportd/exportd/internal/schema"
)

// TestEncodings checks that LowCardinality columns are dictionary encoded,
// other columns PLAIN, and that data pages are version 1.
func TestEncodings(t *testing.T) {
	tbl := schema.Table{Name: "enc", Columns: []schema.Column{
		{Name: "kind", Kind: schema.String, LowCardinality: true},
		{Name: "text", Kind: schema.String},
		{Name: "code", Kind: schema.Int64, LowCardinality: true, Nullable: true},
		{Name: "tags", Kind: schema.List, LowCardinality: true, Elem: &schema.Column{Kind: schema.String}},
		{Name: "at", Kind: schema.Timestamp, UTC: true},
	}}
	var rows [][]any
	for i := range 5000 {
		rows = append(rows, []any{
			[]string{"click", "view", "buy"}[i%3], "text " + string(rune('a'+i%26)),
			int64(i % 7), []any{"red", "green"}[:i%3], int64(1_700_000_000_000_000 + i),
		})
	}
	files, _ := writeTable(t, tbl, Options{}, rows)
	md := openMeta(t, files[0].Path).MetaData()
	dictionary := map[string]bool{"kind": true, "text": false, "code": true, "tags.list.element": true, "at": false}
	for g := 0; g < md.NumRowGroups(); g++ {
		rg := md.RowGroup(g)
		for c := 0; c < rg.NumColumns(); c++ {
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			path := cc.PathInSchema().String()
			want, ok := dictionary[path]
			if !ok {
				t.Fatalf("unexpected column %s", path)
			}
			if cc.HasDictionaryPage() != want {
				t.Errorf("column %s: dictionary page %v, want %v", path, cc.HasDictionaryPage(), want)
			}
			if slices.Contains(cc.Encodings(), pq.Encodings.RLEDict) != want {
				t.Errorf("column %s: encodings %v, RLE_DICTIONARY wanted %v", path, cc.Encodings(), want)
			}
			for _, s := range cc.EncodingStats() {
				if s.PageType.String() == "DATA_PAGE_V2" {
					t.Errorf("column %s: version 2 data page", path)
				}
				if s.PageType.String() == "DATA_PAGE" && s.Encoding != pq.Encodings.Plain && s.Encoding != pq.Encodings.RLEDict {
					t.Errorf("column %s: data page encoded %v", path, s.Encoding)
				}
			}
		}
	}
}

// signedFixed decodes a big-endian two's complement number.
func signedFixed(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return n
}

// TestDecimalStatisticsAreSigned guards against unsigned byte order in the
// statistics of 16-byte decimals: a reader pruning row groups with
// min/max must not skip negative values.
func TestDecimalStatisticsAreSigned(t *testing.T) {
	tbl := schema.Table{Name: "dec", Columns: []schema.Column{
		{Name: "d9", Kind: schema.Decimal, Precision: 9, Scale: 2},
		{Name: "d18", Kind: schema.Decimal, Precision: 18, Scale: 2},
		{Name: "d38", Kind: schema.Decimal, Precision: 38, Scale: 2, Nullable: true},
	}}
	var rows [][]any
	for i := range 2000 {
		v := int64(i%50 - 25) // -25..24, changing sign every row
		var d38 any = big.NewInt(v * 1000)
		if i%10 == 3 {
			d38 = nil
		}
		rows = append(rows, []any{v, v * 10, d38})
	}
	// Small pages: the page index then has many entries to check.
	files, _ := writeTable(t, tbl, Options{PageBufferSize: minPageBufferSize, Lanes: 1}, rows)
	r := openMeta(t, files[0].Path)
	md := r.MetaData()
	wantMin := []int64{-25, -250, -25000}
	wantMax := []int64{24, 240, 24000}
	for g := 0; g < md.NumRowGroups(); g++ {
		rg := md.RowGroup(g)
		for c := 0; c < rg.NumColumns(); c++ {
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			st, err := cc.Statistics()
			if err != nil || st == nil || !st.HasMinMax() {
				t.Fatalf("column %d: no min/max statistics (%v)", c, err)
			}
			var lo, hi int64
			switch st := st.(type) {
			case *metadata.Int32Statistics:
				lo, hi = int64(st.Min()), int64(st.Max())
			case *metadata.Int64Statistics:
				lo, hi = st.Min(), st.Max()
			case *metadata.FixedLenByteArrayStatistics:
				lo, hi = signedFixed(st.Min()).Int64(), signedFixed(st.Max()).Int64()
			default:
				t.Fatalf("column %d: statistics %T", c, st)
			}
			if lo != wantMin[c] || hi != wantMax[c] {
				t.Errorf("column %s: statistics min %d max %d, want %d and %d", tbl.Columns[c].Name, lo, hi, wantMin[c], wantMax[c])
			}
		}

		// Every page's bounds in the page index must hold in signed order.
		pir, err := r.GetPageIndexReader().RowGroup(g)
		if err != nil {
			t.Fatal(err)
		}
		ci, err := pir.GetColumnIndex(2)
		if err != nil {
			t.Fatal(err)
		}
		mins, maxs := ci.GetMinValues(), ci.GetMaxValues()
		if len(mins) < 2 || len(mins) != len(ci.GetNullPages()) || len(maxs) != len(mins) {
			t.Fatalf("column index: %d mins, %d maxs, %d pages", len(mins), len(maxs), len(ci.GetNullPages()))
		}
		for p := range mins {
			lo, hi := signedFixed(mins[p]), signedFixed(maxs[p])
			if lo.Int64() != -25000 || hi.Int64() != 24000 {
				t.Errorf("page %d: index bounds %v..%v, want -25000..24000", p, lo, hi)
			}
		}
		if o := ci.GetBoundaryOrder(); o != metadata.Unordered {
			t.Errorf("column index boundary order %v, want unordered", o)
		}
	}
}
