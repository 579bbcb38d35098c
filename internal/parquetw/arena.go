package parquetw

// arena holds copies of the byte values of one batch. Sources reuse their
// buffers, and parquet.Value only points at bytes, so every byte value is
// copied here until the batch is handed to the column writers, which copy it
// again into their pages. Chunks are recycled from batch to batch, so a
// steady stream of rows allocates nothing. The first chunks are small and
// each new one doubles, up to arenaChunk, so that a table of a few rows
// does not pay for a big chunk.
type arena struct {
	cur   []byte   // chunk being filled; len is the bytes used
	used  [][]byte // filled chunks of this batch
	spare [][]byte // chunks free for reuse
	size  int      // bytes handed out in this batch
	// largest is the largest value handed out in this batch.
	largest int
	chunk   int // size of the last chunk allocated
}

const (
	arenaChunk      = 64 << 10
	arenaFirstChunk = 2 << 10
	// Values larger than this get their own allocation, dropped after the
	// batch, so one huge value does not pin a huge chunk.
	arenaLarge = arenaChunk / 4
)

// emptyBytes backs zero-length values: parquet.Value keeps a pointer, and a
// zero-length slice of a chunk could point just past its end.
var emptyBytes = make([]byte, 0, 1)

// alloc returns n bytes that stay valid until reset.
func (a *arena) alloc(n int) []byte {
	if n == 0 {
		return emptyBytes
	}
	a.size += n
	a.largest = max(a.largest, n)
	if n > arenaLarge {
		return make([]byte, n)
	}
	if cap(a.cur)-len(a.cur) < n {
		a.next(n)
	}
	start := len(a.cur)
	a.cur = a.cur[:start+n]
	return a.cur[start : start+n : start+n]
}

// next makes a chunk of at least n free bytes (n ≤ arenaLarge) current.
func (a *arena) next(n int) {
	if a.cur != nil {
		a.used = append(a.used, a.cur)
	}
	for k := len(a.spare); k > 0; k-- {
		c := a.spare[k-1]
		a.spare = a.spare[:k-1]
		if cap(c) >= n {
			a.cur = c[:0]
			return
		}
		// An early, small chunk: bigger ones replace it.
	}
	a.chunk = min(max(2*a.chunk, arenaFirstChunk, n), arenaChunk)
	a.cur = make([]byte, 0, a.chunk)
}

// copyBytes returns a copy of b in the arena.
func (a *arena) copyBytes(b []byte) []byte {
	dst := a.alloc(len(b))
	copy(dst, b)
	return dst
}

// copyString returns a copy of s in the arena.
func (a *arena) copyString(s string) []byte {
	dst := a.alloc(len(s))
	copy(dst, s)
	return dst
}

// reset makes every chunk reusable. Values handed out before are invalid.
func (a *arena) reset() {
	a.spare = append(a.spare, a.used...)
	clear(a.used)
	a.used = a.used[:0]
	a.cur = a.cur[:0]
	a.size, a.largest = 0, 0
}
