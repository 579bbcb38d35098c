package parquetw

import (
	"fmt"
	"math/big"
	"strings"
)

// sizeUnits are the suffixes ParseSize accepts, matched case-insensitively.
// Binary units (KiB) are powers of 1024, decimal units (KB) powers of 1000.
// Longer suffixes come first so "kib" is not read as "b".
var sizeUnits = []struct {
	suffix string
	scale  int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"b", 1},
}

const sizeSyntax = "a number with an optional unit: B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"

// ParseSize parses a human size such as "128MiB", "1.5 GB", "64kib" or
// "1048576" into bytes. Units are B, KB, MB, GB, TB (powers of 1000) and
// KiB, MiB, GiB, TiB (powers of 1024), in any letter case; a plain number is
// bytes. A fraction is allowed when it comes to a whole number of bytes.
func ParseSize(s string) (int64, error) {
	num := strings.ToLower(strings.TrimSpace(s))
	scale := int64(1)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, scale = strings.TrimSpace(rest), u.scale
			break
		}
	}
	if !isDecimal(num) {
		return 0, fmt.Errorf("size %q: want %s", s, sizeSyntax)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("size %q: want %s", s, sizeSyntax)
	}
	r.Mul(r, new(big.Rat).SetInt64(scale))
	if !r.IsInt() {
		return 0, fmt.Errorf("size %q is not a whole number of bytes", s)
	}
	n := r.Num()
	if !n.IsInt64() {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n.Int64(), nil
}

// isDecimal reports whether s is digits with at most one decimal point and
// at least one digit on each side of it: no sign, exponent or fraction bar.
func isDecimal(s string) bool {
	whole, frac, hasPoint := strings.Cut(s, ".")
	return allDigits(whole) && whole != "" && (!hasPoint || frac != "" && allDigits(frac))
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
