package postgres

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
)

// numeric is a parsed binary numeric: ndigits base-10000 digits, the first
// worth 10000^weight, and dscale decimal digits after the point.
type numeric struct {
	weight int
	sign   uint16
	dscale int
	digits []byte // 2 bytes a digit
}

const (
	numericPos    = 0x0000
	numericNeg    = 0x4000
	numericNaN    = 0xC000
	numericPInf   = 0xD000
	numericNInf   = 0xF000
	numericMaxDig = 9999
)

func parseNumeric(b []byte) (numeric, error) {
	if len(b) < 8 {
		return numeric{}, errMalformed
	}
	nd := int(int16(binary.BigEndian.Uint16(b)))
	n := numeric{
		weight: int(int16(binary.BigEndian.Uint16(b[2:]))),
		sign:   binary.BigEndian.Uint16(b[4:]),
		dscale: int(int16(binary.BigEndian.Uint16(b[6:]))),
	}
	if nd < 0 || len(b) != 8+2*nd || n.dscale < 0 {
		return numeric{}, errMalformed
	}
	n.digits = b[8:]
	switch n.sign {
	case numericPos, numericNeg, numericNaN, numericPInf, numericNInf:
	default:
		return numeric{}, errMalformed
	}
	return n, nil
}

func (n *numeric) digit(i int) uint64 {
	if i < 0 || 2*i >= len(n.digits) {
		return 0
	}
	return uint64(binary.BigEndian.Uint16(n.digits[2*i:]))
}

// appendText appends the value as PostgreSQL prints it: every digit, dscale
// of them after the point; NaN, Infinity and -Infinity spelled out.
func (n *numeric) appendText(dst []byte) []byte {
	switch n.sign {
	case numericNaN:
		return append(dst, "NaN"...)
	case numericPInf:
		return append(dst, "Infinity"...)
	case numericNInf:
		return append(dst, "-Infinity"...)
	case numericNeg:
		dst = append(dst, '-')
	}
	// Integer part: digits 0..weight.
	if n.weight < 0 {
		dst = append(dst, '0')
	} else {
		for i := 0; i <= n.weight; i++ {
			d := n.digit(i)
			if i == 0 {
				dst = appendUint(dst, d)
			} else {
				dst = append(dst, byte('0'+d/1000), byte('0'+d/100%10), byte('0'+d/10%10), byte('0'+d%10))
			}
		}
	}
	if n.dscale > 0 {
		dst = append(dst, '.')
		left := n.dscale
		for i := n.weight + 1; left > 0; i++ {
			d := n.digit(i)
			four := [4]byte{byte('0' + d/1000), byte('0' + d/100%10), byte('0' + d/10%10), byte('0' + d%10)}
			k := min(left, 4)
			dst = append(dst, four[:k]...)
			left -= k
		}
	}
	return dst
}

func appendUint(dst []byte, v uint64) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}

// u128 is an unsigned 128-bit integer: DECIMAL(38, s)'s unscaled values
// fit, since 10^38 < 2^127.
type u128 struct{ hi, lo uint64 }

// mulAdd returns x*m + a, and false on overflow.
func (x u128) mulAdd(m, a uint64) (u128, bool) {
	hh, hl := bits.Mul64(x.hi, m)
	lh, ll := bits.Mul64(x.lo, m)
	hi, c := bits.Add64(hl, lh, 0)
	if hh != 0 || c != 0 {
		return u128{}, false
	}
	lo, c := bits.Add64(ll, a, 0)
	hi, c2 := bits.Add64(hi, 0, c)
	if c2 != 0 {
		return u128{}, false
	}
	return u128{hi, lo}, true
}

// divSmall returns x/m and x%m.
func (x u128) divSmall(m uint64) (u128, uint64) {
	qhi := x.hi / m
	r := x.hi % m
	qlo, r := bits.Div64(r, x.lo, m)
	return u128{qhi, qlo}, r
}

func (x u128) less(y u128) bool { return x.hi < y.hi || (x.hi == y.hi && x.lo < y.lo) }

// pow10 holds 10^0 … 10^38.
var pow10 = func() (p [39]u128) {
	p[0] = u128{0, 1}
	for i := 1; i < len(p); i++ {
		p[i], _ = p[i-1].mulAdd(10, 0)
	}
	return p
}()

var pow10small = [5]uint64{1, 10, 100, 1000, 10000}

var errDecimalFit = errors.New("does not fit the column's DECIMAL")

// decimal writes a numeric as the unscaled integer of DECIMAL(precision,
// scale): Int64 when it fits, BigInt otherwise. A value with more
// fractional digits than scale, or more integer digits than precision -
// scale, fails: nothing is rounded.
func (d *rowDecoder) decimal(p *plan, b []byte) error {
	n, err := parseNumeric(b)
	if err != nil {
		return err
	}
	switch n.sign {
	case numericNaN:
		return errNaN
	case numericPInf, numericNInf:
		return errInfinite
	}
	// The unscaled value is the digits, read as one integer, times
	// 10^exp. When exp < 0 its last -exp decimal digits must be zeros,
	// dropped before accumulating so that v never outgrows 128 bits.
	nd := len(n.digits) / 2
	exp := 4*(n.weight-nd+1) + p.scale
	ok := true
	var lastMul, last uint64
	for exp < 0 && nd > 0 && ok {
		d := n.digit(nd - 1)
		if k := -exp; k >= 4 {
			ok = d == 0
			nd, exp = nd-1, exp+4
		} else {
			div := pow10small[k]
			ok = d%div == 0
			lastMul, last = pow10small[4-k], d/div
			nd, exp = nd-1, 0
		}
	}
	var v u128
	for i := 0; i < nd && ok; i++ {
		v, ok = v.mulAdd(10000, n.digit(i))
	}
	if lastMul != 0 && ok {
		v, ok = v.mulAdd(lastMul, last)
	}
	for ; exp > 0 && ok; exp-- {
		v, ok = v.mulAdd(10, 0)
	}
	if !ok || !v.less(pow10[p.precision]) {
		var txt []byte
		txt = n.appendText(txt)
		return fmt.Errorf("%w: %s is not a DECIMAL(%d,%d)", errDecimalFit, txt, p.precision, p.scale)
	}
	neg := n.sign == numericNeg
	if v.hi == 0 && v.lo <= math.MaxInt64 {
		x := int64(v.lo)
		if neg {
			x = -x
		}
		d.w.Int64(x)
		return nil
	}
	// 2 words on 64-bit machines; reuse the slice so no row allocates.
	d.words = append(d.words[:0], big.Word(v.lo), big.Word(v.hi))
	if bits.UintSize == 32 {
		d.words = append(d.words[:0], big.Word(v.lo), big.Word(v.lo>>32), big.Word(v.hi), big.Word(v.hi>>32))
	}
	d.big.SetBits(d.words)
	if neg {
		d.big.Neg(&d.big)
	}
	d.w.BigInt(&d.big)
	return nil
}
