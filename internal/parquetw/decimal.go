package parquetw

import (
	"bytes"
	"math/big"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// physical is the parquet physical type a decimal is stored in.
type physical uint8

const (
	physInt32 physical = iota // precision 1..9
	physInt64                 // precision 10..18
	physFixed                 // precision 19..38: 16-byte two's complement
)

// decimalWidth is the byte width of the fixed representation.
const decimalWidth = 16

func decimalPhysical(precision int) physical {
	switch {
	case precision <= 9:
		return physInt32
	case precision <= 18:
		return physInt64
	default:
		return physFixed
	}
}

func decimalNode(precision, scale int) parquet.Node {
	switch decimalPhysical(precision) {
	case physInt32:
		return parquet.Decimal(scale, precision, parquet.Int32Type)
	case physInt64:
		return parquet.Decimal(scale, precision, parquet.Int64Type)
	default:
		base := parquet.Decimal(scale, precision, parquet.FixedLenByteArrayType(decimalWidth)).Type()
		return parquet.Leaf(signedDecimal{base})
	}
}

// pow10 holds 10^0 … 10^18; |unscaled| < pow10[p] for precision p ≤ 18.
var pow10 = func() (t [19]int64) {
	t[0] = 1
	for i := 1; i < len(t); i++ {
		t[i] = t[i-1] * 10
	}
	return t
}()

// bigPow10 holds 10^0 … 10^38. The values are never modified, so sharing
// them between goroutines is safe.
var bigPow10 = func() (t [39]*big.Int) {
	ten := big.NewInt(10)
	t[0] = big.NewInt(1)
	for i := 1; i < len(t); i++ {
		t[i] = new(big.Int).Mul(t[i-1], ten)
	}
	return t
}()

// int64FitsPrecision reports whether an unscaled value has at most
// precision digits.
func int64FitsPrecision(v int64, precision int) bool {
	if precision >= len(pow10) {
		return true // every int64 has at most 19 digits
	}
	return v > -pow10[precision] && v < pow10[precision]
}

// putFixedInt64 writes v as a 16-byte big-endian two's complement number.
func putFixedInt64(dst []byte, v int64) {
	ext := byte(0)
	if v < 0 {
		ext = 0xff
	}
	for i := 0; i < 8; i++ {
		dst[i] = ext
	}
	u := uint64(v)
	for i := 15; i >= 8; i-- {
		dst[i] = byte(u)
		u >>= 8
	}
}

// putFixedBig writes v, which must satisfy |v| < 2^127, as a 16-byte
// big-endian two's complement number without allocating.
func putFixedBig(dst []byte, v *big.Int) {
	v.FillBytes(dst[:decimalWidth]) // magnitude
	if v.Sign() >= 0 {
		return
	}
	// Negate the magnitude: invert every byte, then add one.
	carry := uint16(1)
	for i := decimalWidth - 1; i >= 0; i-- {
		s := uint16(^dst[i]) + carry
		dst[i] = byte(s)
		carry = s >> 8
	}
}

// signedDecimal is the 16-byte DECIMAL type with the signed order the
// parquet spec defines for decimals. parquet-go orders fixed-length byte
// arrays as unsigned bytes, which puts negative decimals above positive
// ones; its min/max statistics and page index would then let a reader skip
// row groups that hold matching negative values. signedDecimal fixes the
// comparison, the page bounds the statistics come from, and the boundary
// order of the column index.
//
// This is parquet-go issue #592, fixed upstream by #595 after v0.32.0, the
// latest release. Drop the wrapper once go.mod moves past the fix;
// TestDecimalStatisticsAreSigned guards the behaviour either way.
type signedDecimal struct{ parquet.Type }

func (t signedDecimal) Compare(a, b parquet.Value) int {
	return compareSigned(a.ByteArray(), b.ByteArray())
}

func (t signedDecimal) NewColumnBuffer(columnIndex, numValues int) parquet.ColumnBuffer {
	return &signedBuffer{t.Type.NewColumnBuffer(columnIndex, numValues)}
}

func (t signedDecimal) NewColumnIndexer(sizeLimit int) parquet.ColumnIndexer {
	return &unorderedIndexer{t.Type.NewColumnIndexer(sizeLimit)}
}

// compareSigned compares big-endian two's complement numbers of one width.
func compareSigned(a, b []byte) int {
	if len(a) == 0 || len(b) == 0 {
		return bytes.Compare(a, b)
	}
	if na, nb := a[0]&0x80 != 0, b[0]&0x80 != 0; na != nb {
		if na {
			return -1
		}
		return 1
	}
	return bytes.Compare(a, b)
}

type signedBuffer struct{ parquet.ColumnBuffer }

func (b *signedBuffer) Page() parquet.Page { return signedPage{b.ColumnBuffer.Page()} }

func (b *signedBuffer) Clone() parquet.ColumnBuffer {
	return &signedBuffer{b.ColumnBuffer.Clone()}
}

type signedPage struct{ parquet.Page }

func (p signedPage) Slice(i, j int64) parquet.Page { return signedPage{p.Page.Slice(i, j)} }

func (p signedPage) Bounds() (lo, hi parquet.Value, ok bool) {
	values := p.Data()
	data, size := values.FixedLenByteArray()
	if size <= 0 || len(data) < size {
		return lo, hi, false
	}
	minV, maxV := data[:size], data[:size]
	for i := size; i+size <= len(data); i += size {
		v := data[i : i+size]
		if compareSigned(v, minV) < 0 {
			minV = v
		}
		if compareSigned(v, maxV) > 0 {
			maxV = v
		}
	}
	col := p.Column()
	return parquet.FixedLenByteArrayValue(minV).Level(0, 0, col),
		parquet.FixedLenByteArrayValue(maxV).Level(0, 0, col), true
}

// unorderedIndexer declares the page index unordered: the wrapped indexer
// derives the boundary order from unsigned byte order, which is wrong for
// signed decimals, and UNORDERED is always a truthful answer.
type unorderedIndexer struct{ parquet.ColumnIndexer }

func (x *unorderedIndexer) ColumnIndex() format.ColumnIndex {
	ci := x.ColumnIndexer.ColumnIndex()
	ci.BoundaryOrder = format.Unordered
	return ci
}
