package sample

import (
	"math/big"

	"github.com/exportd/exportd/internal/source"
)

// generator writes the rows of one table. Each ReadTable call has its own,
// so its buffers need no locking; row i depends only on the world and i.
type generator interface {
	row(out source.RowWriter, i int64)
}

func newGenerator(w *world, t int) generator {
	g := gen{w: w, buf: make([]byte, 0, 256), json: make([]byte, 0, 512)}
	switch t {
	case companies:
		return &companiesGen{gen: g}
	case contacts:
		return &contactsGen{gen: g}
	case events:
		return &eventsGen{gen: g}
	case revenue:
		return &revenueGen{gen: g}
	case revenueAttribution:
		return &attributionGen{gen: g}
	case paidAds:
		return &paidAdsGen{gen: g}
	}
	panic("sample: no generator for table " + tableNames[t])
}

// gen is what every table's generator shares: the world and scratch
// buffers. RowWriter copies byte slices before returning, so a buffer is
// reused for every value.
type gen struct {
	w    *world
	buf  []byte
	json []byte
	big  big.Int
}

// id writes table t's identifier of row i.
func (g *gen) id(out source.RowWriter, t int, i int64) {
	g.buf = g.w.id(g.buf[:0], t, i)
	out.Bytes(g.buf)
}

// optionalID writes table t's identifier of row i, or null when i < 0.
func (g *gen) optionalID(out source.RowWriter, t int, i int64) {
	if i < 0 {
		out.Null()
		return
	}
	g.id(out, t, i)
}

// date writes the day of a timestamp in microseconds.
func date(out source.RowWriter, micros int64) {
	out.Int32(int32(floorDiv(micros, day)))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// clampInt32 saturates counts that only absurd configurations push past
// the int32 columns that hold them.
func clampInt32(v int64) int32 {
	return int32(min(v, 1<<31-1))
}
