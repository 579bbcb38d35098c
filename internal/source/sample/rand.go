package sample

import (
	"math/big"
	"math/bits"
)

// Every value the generator produces is a pure function of a table key
// (derived from the seed, the account and the table name) and a row number.
// Nothing is carried from one row to the next, so rows can be produced in
// any order, by any number of goroutines, and a single row can be
// regenerated on its own.

// golden is 2^64 divided by the golden ratio: the splitmix64 increment.
const golden = 0x9e3779b97f4a7c15

// mix is the splitmix64 finalizer. It is a bijection on uint64, which is
// what makes identifiers derived from row numbers unique.
func mix(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	return z ^ z>>31
}

// hashString hashes s with FNV-1a and finishes with mix, so that short,
// similar strings (account ids, table names) give unrelated keys.
func hashString(s string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	return mix(h ^ uint64(len(s)))
}

// tableKey is the key every value of one table is derived from.
func tableKey(seed uint64, account, table string) uint64 {
	h := mix(seed + golden)
	h = mix(h ^ hashString(account))
	return mix(h ^ hashString(table))
}

// rng is a splitmix64 stream. A row's stream starts at a state derived
// from the table key and the row number.
type rng struct{ s uint64 }

func newRNG(key uint64, i int64) rng { return rng{s: mix(key ^ uint64(i))} }

// field is a stream for one attribute of a row that other tables read too
// (a contact's company, an event's time). It is independent of the row's
// main stream, so the row and its readers agree whatever else the row
// draws.
func field(key uint64, i int64, f uint64) rng {
	return rng{s: mix(key^uint64(i)) + f<<40}
}

func (r *rng) next() uint64 {
	r.s += golden
	return mix(r.s)
}

// intn returns a value in [0, n); n must be positive.
func (r *rng) intn(n uint64) uint64 {
	hi, _ := bits.Mul64(r.next(), n)
	return hi
}

// between returns a value in [lo, hi); hi must be greater than lo.
func (r *rng) between(lo, hi int64) int64 {
	return lo + int64(r.intn(uint64(hi-lo)))
}

// percent reports true with probability p/100.
func (r *rng) percent(p uint64) bool { return r.intn(100) < p }

// logUniform returns a value in [lo, hi) whose logarithm is uniform, the
// shape of amounts, company sizes and traffic: many small, a few large.
// It works on integers so that the result does not depend on the
// platform's floating-point fusion rules.
func (r *rng) logUniform(lo, hi int64) int64 {
	// Pick a power-of-two band uniformly, then a value uniformly in it.
	span := bits.Len64(uint64(hi / lo)) // number of doublings from lo to hi
	if span == 0 {
		return lo
	}
	band := int64(r.intn(uint64(span)))
	from := lo << band
	to := from << 1
	if to > hi || to <= 0 {
		to = hi
	}
	if to <= from {
		return from
	}
	return r.between(from, to)
}

// mulDiv returns a*b/c rounded down, with a 128-bit intermediate product.
// The quotient must fit in 64 bits, which holds whenever a < c or b < c.
func mulDiv(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	q, _ := bits.Div64(hi, lo, c)
	return q
}

// permutation is the bijection x -> (a*x + b) mod n on [0, n), used to
// spread one table's rows over another's without visible runs while
// staying invertible in constant time.
type permutation struct{ n, a, b, inv uint64 }

func newPermutation(n, key uint64) permutation {
	if n <= 1 {
		return permutation{n: n}
	}
	// Start near n/phi, which spreads neighbours far apart, and move to
	// the first multiplier coprime with n.
	a := mulDiv(n, 0x9e3779b97f4a7c15, 1<<63) / 2
	a += key % 16
	a %= n
	if a == 0 {
		a = 1
	}
	for gcd(a, n) != 1 {
		a = (a + 1) % n
		if a == 0 {
			a = 1
		}
	}
	inv := new(big.Int).ModInverse(new(big.Int).SetUint64(a), new(big.Int).SetUint64(n))
	return permutation{n: n, a: a, b: mix(key) % n, inv: inv.Uint64()}
}

func (p permutation) at(x uint64) uint64 {
	if p.n <= 1 {
		return 0
	}
	return (mulMod(x, p.a, p.n) + p.b) % p.n
}

func (p permutation) inverse(y uint64) uint64 {
	if p.n <= 1 {
		return 0
	}
	return mulMod((y+p.n-p.b)%p.n, p.inv, p.n)
}

func mulMod(a, b, n uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return bits.Rem64(hi, lo, n)
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
