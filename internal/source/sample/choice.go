package sample

// choice picks an index with fixed relative weights in constant time: a
// 1024-entry table maps the top ten bits of a random value to an index.
// Weights are therefore honoured to about one part in a thousand, which is
// all sample data needs.
type choice struct{ table [1024]uint8 }

// weighted builds a choice over len(weights) indexes. It panics on
// weights that cannot be honoured, as they are fixed in the source code.
func weighted(weights ...int) *choice {
	total := 0
	for _, w := range weights {
		if w < 0 {
			panic("sample: negative weight")
		}
		total += w
	}
	if total == 0 || len(weights) > 256 {
		panic("sample: weights must be positive and at most 256")
	}
	c := new(choice)
	idx, upto := 0, weights[0]
	for s := range c.table {
		// Slot s covers the fraction [s/1024, (s+1)/1024) of the total.
		for s*total >= upto*len(c.table) {
			idx++
			upto += weights[idx]
		}
		c.table[s] = uint8(idx)
	}
	return c
}

func (c *choice) pick(x uint64) int { return int(c.table[x>>54]) }

// from picks with r's next value.
func (c *choice) from(r *rng) int { return c.pick(r.next()) }

// oneOf picks uniformly from a list.
func oneOf[T any](r *rng, list []T) T { return list[r.intn(uint64(len(list)))] }
