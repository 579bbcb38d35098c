package parquetw

import (
	"context"

	"github.com/parquet-go/parquet-go"
)

// batch is rows gathered for the column writers: one slice of values per
// column, and the arena holding the bytes the values point at. The row
// builder fills one batch at a time; with several lanes, a full batch is
// handed to a lane and the builder goes on with an empty one from the pool,
// so a batch and its arena chunks are reused for the whole encode.
type batch struct {
	values [][]parquet.Value
	arena  arena
	rows   int
	// ctx is the context of the call that handed the batch to a lane: the
	// lane honours it and passes it to deliver for a file the batch ends.
	ctx context.Context
}

// reset forgets the values handed to the column writers.
func (b *batch) reset() {
	for i, v := range b.values {
		clear(v) // drop pointers into the arena and large values
		b.values[i] = v[:0]
	}
	b.arena.reset()
	b.rows = 0
	b.ctx = nil
}
