package parquetw

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/schema"
)

// allKinds has a column of every kind, nullable and not, and lists of
// nullable and required elements.
var allKinds = schema.Table{Name: "all_kinds", Columns: []schema.Column{
	{Name: "s", Kind: schema.String},
	{Name: "s_null", Kind: schema.String, Nullable: true},
	{Name: "region", Kind: schema.String, LowCardinality: true},
	{Name: "bin", Kind: schema.Bytes, Nullable: true},
	{Name: "flag", Kind: schema.Bool, Nullable: true},
	{Name: "i16", Kind: schema.Int16, Nullable: true},
	{Name: "i32", Kind: schema.Int32},
	{Name: "i64", Kind: schema.Int64, Nullable: true},
	{Name: "f32", Kind: schema.Float32},
	{Name: "f64", Kind: schema.Float64, Nullable: true},
	{Name: "d9", Kind: schema.Decimal, Precision: 9, Scale: 2, Nullable: true},
	{Name: "d18", Kind: schema.Decimal, Precision: 18, Scale: 4},
	{Name: "d38", Kind: schema.Decimal, Precision: 38, Scale: 9, Nullable: true},
	{Name: "day", Kind: schema.Date},
	{Name: "tod", Kind: schema.Time, Nullable: true},
	{Name: "ts_utc", Kind: schema.Timestamp, UTC: true},
	{Name: "ts_local", Kind: schema.Timestamp, Nullable: true},
	{Name: "id", Kind: schema.UUID},
	{Name: "props", Kind: schema.JSON, Nullable: true},
	{Name: "tags", Kind: schema.List, Nullable: true, Elem: &schema.Column{Kind: schema.String, Nullable: true}},
	{Name: "scores", Kind: schema.List, Elem: &schema.Column{Kind: schema.Int64}},
	{Name: "amounts", Kind: schema.List, Nullable: true, Elem: &schema.Column{Kind: schema.Decimal, Precision: 38, Scale: 2, Nullable: true}},
}}

func bigDigits(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return n
}

var (
	max38 = bigDigits(strings.Repeat("9", 38))
	min38 = new(big.Int).Neg(max38)
)

const (
	// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in microseconds.
	year1Micros    = -62135596800000000
	year9999Micros = 253402300799999999
	// 2100-03-01 and 1900-01-01 in days.
	day2100 = 47541
	day1900 = -25567
)

// edgeRows are hand-picked rows: extremes, NULLs, empty values, non-ASCII.
func edgeRows() [][]any {
	id := uuidBytes{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00}
	ff := uuidBytes{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	return [][]any{
		{ // every nullable column NULL; null list, empty required list
			"", nil, "eu", nil, nil, nil, int32(0), nil, float32(0), nil,
			nil, int64(0), nil, int32(0), nil, int64(0), nil, uuidBytes{}, nil,
			nil, []any{}, nil,
		},
		{ // maxima
			"Zürich — 東京 🚀", "ünïcödé", "eu", []byte{0, 1, 2, 0xff}, true,
			int16(math.MaxInt16), int32(math.MaxInt32), int64(math.MaxInt64),
			float32(math.MaxFloat32), math.Inf(1),
			int64(999999999), int64(999999999999999999), max38,
			int32(2932896), int64(maxTimeMicros), int64(year9999Micros), int64(year9999Micros), ff,
			`{"a":[1,2,{"b":null}],"ü":"✓"}`,
			[]any{"x", nil, ""}, []any{int64(math.MaxInt64), int64(math.MinInt64)}, []any{max38, nil, min38},
		},
		{ // minima and negatives
			"a", "", "us", []byte{}, false,
			int16(math.MinInt16), int32(math.MinInt32), int64(math.MinInt64),
			float32(-math.MaxFloat32), math.Inf(-1),
			int64(-999999999), int64(-999999999999999999), min38,
			int32(-719162), int64(0), int64(year1Micros), int64(-1), id,
			`[]`,
			[]any{}, []any{int64(-1)}, []any{},
		},
		{ // small negative decimals through both calls, pre-1970 times, empty list vs list of NULL
			"b", "x", "us", []byte("bytes"), true,
			int16(-1), int32(-1), int64(-1),
			float32(math.SmallestNonzeroFloat32), math.NaN(),
			big.NewInt(-1), big.NewInt(-12345), int64(-1),
			int32(day1900), int64(1), int64(-86400000000), int64(1_000_000), id,
			`null`,
			[]any{nil}, []any{int64(0), int64(1), int64(2)}, []any{nil},
		},
		{ // after 2100, decimals near the int64 boundary on the 16-byte type
			"c", nil, "eu", nil, nil,
			nil, int32(1), nil,
			float32(1.5), math.Copysign(0, -1),
			int64(-1), big.NewInt(-999999999999999999), bigDigits("-9223372036854775809"),
			int32(day2100), nil, int64(4102444800000001), nil, id,
			nil,
			[]any{"only"}, []any{}, []any{int64(math.MinInt64), big.NewInt(math.MaxInt64)},
		},
	}
}

// randomRows draws rows from pools of ordinary and extreme values.
func randomRows(n int, seed uint64) [][]any {
	rng := rand.New(rand.NewPCG(seed, 1))
	pick := func(vs ...any) any { return vs[rng.IntN(len(vs))] }
	maybe := func(v any) any {
		if rng.IntN(5) == 0 {
			return nil
		}
		return v
	}
	str := func() string {
		return pick("", "a", "hello world", "naïve café", "日本語テキスト", strings.Repeat("long ", 40)).(string)
	}
	dec38 := func() any {
		v := new(big.Int).SetUint64(rng.Uint64())
		v.Lsh(v, 64).Or(v, new(big.Int).SetUint64(rng.Uint64()))
		v.Mod(v, new(big.Int).Add(max38, big.NewInt(1)))
		v.Quo(v, bigPow10[rng.IntN(38)]) // vary the number of digits
		if rng.IntN(2) == 0 {
			v.Neg(v)
		}
		return v
	}
	rows := make([][]any, n)
	for i := range rows {
		var id uuidBytes
		for j := range id {
			id[j] = byte(rng.Uint32())
		}
		tags := make([]any, rng.IntN(4))
		for j := range tags {
			tags[j] = maybe(str())
		}
		scores := make([]any, rng.IntN(3))
		for j := range scores {
			scores[j] = rng.Int64() - math.MaxInt64/2
		}
		amounts := make([]any, rng.IntN(3))
		for j := range amounts {
			amounts[j] = maybe(dec38())
		}
		rows[i] = []any{
			str(), maybe(str()), pick("eu", "us", "apac"), maybe([]byte(str())), maybe(rng.IntN(2) == 0),
			maybe(int16(rng.Int32N(1<<16) - 1<<15)), rng.Int32(), maybe(rng.Int64() - math.MaxInt64/2),
			rng.Float32(), maybe(rng.NormFloat64() * 1e6),
			maybe(rng.Int64N(2*999999999+1) - 999999999), rng.Int64N(2*999999999999999999+1) - 999999999999999999, maybe(dec38()),
			rng.Int32N(2932896+719162) - 719162, maybe(rng.Int64N(maxTimeMicros + 1)),
			rng.Int64N(year9999Micros-year1Micros) + year1Micros, maybe(rng.Int64N(year9999Micros-year1Micros) + year1Micros), id,
			maybe(`{"n":` + strings.Repeat("1", rng.IntN(20)+1) + `}`),
			maybe(tags), scores, maybe(amounts),
		}
	}
	return rows
}

// TestRoundTripEveryKind writes every kind with one lane, so into one file
// in order, and reads it back; TestLanesRoundTrip is its multi-lane variant.
func TestRoundTripEveryKind(t *testing.T) {
	rows := append(edgeRows(), randomRows(3000, 7)...)
	tests := []struct {
		name  string
		opts  Options
		codec string
	}{
		{"gzip default", Options{Lanes: 1}, "GZIP"},
		{"gzip level 1", Options{Compression: Gzip, CompressionLevel: 1, Lanes: 1}, "GZIP"},
		{"snappy", Options{Compression: Snappy, Lanes: 1}, "SNAPPY"},
		{"zstd", Options{Compression: Zstd, CompressionLevel: 3, Lanes: 1}, "ZSTD"},
		{"none", Options{Compression: Uncompressed, Lanes: 1}, "UNCOMPRESSED"},
		// Several row groups and pages per file, with batches smaller than
		// and not dividing the row group.
		{"small groups", Options{RowGroupRows: 700, PageBufferSize: minPageBufferSize, batchRows: 97, Lanes: 1}, "GZIP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := cloneRows(rows)
			files, sum := writeTable(t, allKinds, tt.opts, rows)
			rows = cloneRows(want) // writeTable scribbled over the byte slices
			if len(files) != 1 {
				t.Fatalf("%d files, want 1", len(files))
			}
			checkFileOnDisk(t, files[0])
			if sum.Rows != int64(len(want)) || files[0].Rows != sum.Rows || sum.Files != 1 || sum.Bytes != files[0].Size {
				t.Errorf("summary %+v, file %+v, want %d rows", sum, files[0], len(want))
			}
			got := readRows(t, files[0].Path, allKinds)
			if len(got) != len(want) {
				t.Fatalf("read %d rows, wrote %d", len(got), len(want))
			}
			for r := range want {
				for c, col := range allKinds.Columns {
					w, g := canon(col.Kind, want[r][c]), got[r][c]
					if col.Kind == schema.List {
						w = canon(col.Elem.Kind, want[r][c])
					}
					if !sameValue(w, g) {
						t.Fatalf("row %d column %s: read %#v, wrote %#v", r, col.Name, g, w)
					}
				}
			}
			md := openMeta(t, files[0].Path).MetaData()
			if tt.name == "small groups" && md.NumRowGroups() < 4 {
				t.Errorf("%d row groups, want at least 4", md.NumRowGroups())
			}
			for g := 0; g < md.NumRowGroups(); g++ {
				rg := md.RowGroup(g)
				if tt.opts.RowGroupRows > 0 && rg.NumRows() > tt.opts.RowGroupRows {
					t.Errorf("row group %d has %d rows, bound is %d", g, rg.NumRows(), tt.opts.RowGroupRows)
				}
				for c := 0; c < rg.NumColumns(); c++ {
					cc, err := rg.ColumnChunk(c)
					if err != nil {
						t.Fatal(err)
					}
					if got := strings.ToUpper(cc.Compression().String()); got != tt.codec {
						t.Errorf("row group %d column %d codec %s, want %s", g, c, got, tt.codec)
					}
				}
			}
		})
	}
}
