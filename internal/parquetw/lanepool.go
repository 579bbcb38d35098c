package parquetw

import (
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/exportd/exportd/internal/schema"
)

// Setting a lane up costs more than encoding a small table: the parquet
// writer and its column writers, a column buffer of a page's worth of
// values for every required column, the output buffer. A fleet of small
// accounts exports the same few tables over and over, so lanes of
// TableWriters that closed cleanly are kept, by the shape of their table
// and the options their writer was built with, and the next TableWriter
// of that shape takes one instead of building its own. Reusing a lane for
// another table is what the lane does from one file to the next anyway:
// the parquet writer is Reset for each file.
//
// Only the lanes of small tables are kept: a lane keeps the buffers it grew
// (some 5 MiB for a 100-row events table, mostly a page of values per
// required column; 50 MiB after a million rows), and a big table's set-up
// is nothing next to its encoding anyway. Idle lanes sit in a sync.Pool per
// shape, so the garbage collector frees the ones that are not taken again;
// the number of shapes is bounded too, since a source whose tables differ
// for every account would otherwise grow the map for ever.
const (
	maxReusedTableBytes = 256 << 10
	maxLaneShapes       = 256
)

var lanePools struct {
	mu    sync.Mutex
	pools map[string]*sync.Pool
}

// lanePool returns the pool of idle lanes for a shape key.
func lanePool(key string) *sync.Pool {
	lanePools.mu.Lock()
	defer lanePools.mu.Unlock()
	if p, ok := lanePools.pools[key]; ok {
		return p
	}
	if lanePools.pools == nil || len(lanePools.pools) >= maxLaneShapes {
		lanePools.pools = make(map[string]*sync.Pool)
	}
	p := &sync.Pool{}
	lanePools.pools[key] = p
	return p
}

// takeLane returns an idle lane for the writer's table, or a new one. The
// lane writes into the writer's sink from now on.
func takeLane(t *schema.Table, opts *Options, s *sink, key string) (*lane, error) {
	if l, ok := lanePool(key).Get().(*lane); ok {
		l.table, l.opts, l.sink = t, opts, s
		return l, nil
	}
	l, err := newLane(t, opts, s)
	if err != nil {
		return nil, err
	}
	l.key = key
	return l, nil
}

// putLane keeps an idle lane for another writer of the same shape. The
// lane must have finished its last file cleanly: its parquet writer is
// closed and no file is open.
func putLane(l *lane) {
	if l.out != nil || l.key == "" {
		return
	}
	l.pw.Reset(io.Discard) // let go of the last file
	l.buf.Reset(nil)
	l.table, l.opts, l.sink = nil, nil, nil
	l.fileRows, l.groupRows = 0, 0
	lanePool(l.key).Put(l)
}

// laneKey identifies what a lane's parquet writer is built from: the
// table's name (the parquet schema's name), every property of its columns
// that the parquet schema depends on, and the options the writer
// configuration takes. Options read at run time (file and row-group
// sizes) are not part of it.
func laneKey(t *schema.Table, o *Options) string {
	var b strings.Builder
	writeName(&b, t.Name)
	writeName(&b, string(o.Compression))
	b.WriteString(strconv.Itoa(o.CompressionLevel))
	b.WriteByte(',')
	b.WriteString(strconv.Itoa(o.PageBufferSize))
	for i := range t.Columns {
		b.WriteByte(';')
		writeColumnKey(&b, &t.Columns[i])
	}
	return b.String()
}

// writeName writes a name with its length first, so that no two lists of
// names give the same key whatever bytes they hold.
func writeName(b *strings.Builder, name string) {
	b.WriteString(strconv.Itoa(len(name)))
	b.WriteByte(':')
	b.WriteString(name)
}

func writeColumnKey(b *strings.Builder, c *schema.Column) {
	writeName(b, c.Name)
	b.WriteString(strconv.Itoa(int(c.Kind)))
	flags := byte('0')
	if c.Nullable {
		flags |= 1
	}
	if c.UTC {
		flags |= 2
	}
	if c.LowCardinality {
		flags |= 4
	}
	b.WriteByte(flags)
	if c.Kind == schema.Decimal {
		b.WriteString(strconv.Itoa(c.Precision))
		b.WriteByte(',')
		b.WriteString(strconv.Itoa(c.Scale))
	}
	if c.Elem != nil {
		b.WriteByte('[')
		writeColumnKey(b, c.Elem)
		b.WriteByte(']')
	}
}
