// Package source defines what a source of table snapshots is: something
// that, for one export, opens a consistent snapshot of an account's tables
// and streams each table's rows into a [RowWriter].
//
// Kinds of sources (postgres, sample, dir) live in subpackages and register
// themselves with [Register]. This package knows nothing of parquet, NATS or
// destinations.
package source

import (
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"sort"
	"sync"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/schema"
	"github.com/hashicorp/hcl/v2"
)

// Source opens snapshots. One Source serves every export of a daemon and
// may be used concurrently.
type Source interface {
	// Open starts a consistent snapshot of the account named by req. All
	// tables read from the snapshot reflect one instant.
	Open(ctx context.Context, req Request) (Snapshot, error)
	// Close releases what the source holds (connection pools).
	Close() error
}

// Request describes what one export needs from a source.
type Request struct {
	Event event.ModellingCompleted
	// Tables restricts the snapshot to these tables, in this order. Empty
	// means every table the source is configured with.
	Tables []string
}

// Snapshot is one consistent view of an account's tables.
type Snapshot interface {
	// Tables describes the tables of the snapshot, in export order.
	Tables() []schema.Table
	// Parallelism is how many tables the snapshot can read at once; 0 means
	// no limit of its own.
	Parallelism() int
	// ReadTable streams every row of the named table into w, calling
	// w.EndRow after each. It may be called concurrently for different
	// tables, and honours ctx.
	ReadTable(ctx context.Context, table string, w RowWriter) error
	// Close ends the snapshot.
	Close() error
}

// RowWriter receives a table's rows, one value per column in the table's
// column order, through typed calls. Which call fits which column kind:
//
//	Null                 any nullable column (or list element)
//	Bool                 Bool
//	Int32                Int16, Int32, Date (days since 1970-01-01)
//	Int64                Int64, Time and Timestamp (microseconds), Decimal
//	                     (the unscaled value)
//	BigInt               Decimal (the unscaled value, any precision)
//	Float32, Float64     Float32, Float64
//	Bytes, String        String, JSON, Bytes
//	Fixed                UUID (16 bytes)
//	BeginList, EndList   List: BeginList, then one call per element, then
//	                     EndList; Null for a null list
//
// Byte slices are copied before the call returns, so a source may reuse
// its buffers. Misuse (a call that does not fit the column, too few or too
// many values) is reported by EndRow.
type RowWriter interface {
	Null()
	Bool(v bool)
	Int32(v int32)
	Int64(v int64)
	BigInt(v *big.Int)
	Float32(v float32)
	Float64(v float64)
	Bytes(v []byte)
	String(v string)
	Fixed(v []byte)
	BeginList(n int)
	EndList()
	// EndRow completes the current row. Its error is final for the table.
	EndRow() error
}

// Factory builds a Source from its configuration block. Body is the block's
// body; expressions in it may refer to the event (see package config), so a
// factory keeps what it must evaluate per event and checks the rest now.
type Factory func(body hcl.Body, env Env) (Source, hcl.Diagnostics)

// Env is what a factory may use from the daemon's configuration.
type Env struct {
	// EvalContext evaluates expressions for one event; a nil event gives
	// the context used to check the configuration at startup, in which the
	// event's fields are unknown strings.
	EvalContext func(ev *event.ModellingCompleted) *hcl.EvalContext
	// DataDir is the daemon's data directory.
	DataDir string
	// Logger receives the source's log lines; nil discards them.
	Logger *slog.Logger
}

var (
	mu        sync.Mutex
	factories = map[string]Factory{}
)

// Register makes a kind of source available under name. It panics if name
// is taken, as that is a programming error.
func Register(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := factories[name]; dup {
		panic(fmt.Sprintf("source %q registered twice", name))
	}
	factories[name] = f
}

// Lookup returns the factory registered under name.
func Lookup(name string) (Factory, bool) {
	mu.Lock()
	defer mu.Unlock()
	f, ok := factories[name]
	return f, ok
}

// Kinds lists the registered kinds of source, sorted.
func Kinds() []string {
	mu.Lock()
	defer mu.Unlock()
	names := make([]string, 0, len(factories))
	for n := range factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
