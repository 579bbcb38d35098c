package parquetw

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/exportd/exportd/internal/schema"
	"github.com/exportd/exportd/internal/source"
)

var _ source.RowWriter = (*TableWriter)(nil)

// DeliverFunc receives each finished file, in index order, one call at a
// time, and returns when the file is taken care of. With one lane it runs
// on the goroutine writing rows, with several on a lane's goroutine; either
// way a slow DeliverFunc slows the encoding down: that is the pipeline's
// backpressure. From the call on, the file belongs to the receiver, whatever
// DeliverFunc returns: the writer never touches it again, so a receiver that
// fails before taking the file removes it itself (or its directory). With
// several lanes, ctx is done once the writer fails (in another lane, say),
// so a delivery that waits stops waiting.
type DeliverFunc func(ctx context.Context, f File) error

// Summary describes what a TableWriter produced.
type Summary struct {
	Table string
	Files int
	Rows  int64
	Bytes int64
}

// TableWriter encodes one table's rows into parquet files in a directory.
// It receives rows through the source.RowWriter calls, gathers them in
// batches, writes bounded row groups, and finishes a file when it reaches
// the target size: the file is closed, renamed from its ".partial" name and
// handed to the DeliverFunc. Files are not synced to disk: they are a
// spool, which a crash makes worthless anyway (see output.close).
//
// With one lane ([Options.Lanes]) batches are encoded on the caller's
// goroutine, and a finished file is delivered before the next row is
// accepted. With several, so are a table's first 32 batches; from then on
// the caller's goroutine only builds batches, and each full batch goes to
// whichever lane is free; every lane encodes and compresses into files of
// its own. Then a file holds whole batches, in the order they were written,
// but the batches of different files interleave: rows keep their order
// within a batch, not across files. Every row still lands in exactly one
// file, and files are still delivered one at a time with contiguous
// indexes, numbered when they are finished.
//
// A TableWriter is used by one goroutine. Its first error (a misuse, a
// failed write or delivery in any lane, a cancelled context) is final:
// every later call is ignored, and EndRow and Close return that error.
type TableWriter struct {
	rowBuilder

	ctx    context.Context
	schema schema.Table
	opts   Options
	sink   *sink

	lanes      []*lane   // the first exists from the start, the others with par
	laneKey    string    // the shape of the lanes (lanepool.go)
	par        *pipeline // nil until a batch is handed to a lane's goroutine
	solo       int       // batches encoded on this goroutine
	batchLimit int
	closed     bool
}

// NewTableWriter returns a writer of table t's files into dir, created if
// needed. ctx governs the whole encode: rows are refused once it is done,
// and it is passed to deliver for every file finished by EndRow (with
// several lanes, a context derived from it, cancelled when the writer fails
// or closes).
func NewTableWriter(ctx context.Context, dir string, t schema.Table, opts Options, deliver DeliverFunc) (*TableWriter, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("parquet options: %w", err)
	}
	if deliver == nil {
		return nil, errors.New("parquet table writer needs a deliver function")
	}
	if dir == "" {
		return nil, errors.New("parquet table writer needs a directory")
	}
	if !safeFileName(t.Name) {
		return nil, fmt.Errorf("table name %q cannot name a file", t.Name)
	}
	if err := checkTable(&t); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("parquet directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("parquet directory: %w", err)
	}
	w := &TableWriter{
		rowBuilder: newRowBuilder(&t, opts.withDefaults().batchRows),
		ctx:        ctx,
		schema:     t,
		opts:       opts.withDefaults(),
		sink:       &sink{dir: abs, table: t.Name, fn: deliver, maxSize: opts.MaxFileSize, summary: Summary{Table: t.Name}},
	}
	w.laneKey = laneKey(&w.schema, &w.opts)
	first, err := takeLane(&w.schema, &w.opts, w.sink, w.laneKey)
	if err != nil {
		return nil, err
	}
	w.lanes = []*lane{first}
	w.setBatchLimit()
	return w, nil
}

func safeFileName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\\\x00")
}

// EndRow completes the current row. When a batch is complete it is encoded,
// which may finish a file and deliver it, or, with several lanes, handed to
// a lane, which may wait for one to be free.
func (w *TableWriter) EndRow() error {
	if err := w.endRow(); err != nil {
		return err
	}
	if w.cur.rows < w.batchLimit && w.cur.arena.size < batchArenaBytes {
		return nil
	}
	var err error
	switch {
	case w.par == nil && (w.opts.Lanes == 1 || w.solo < w.opts.soloBatches):
		w.solo++
		err = w.encodeHere(w.ctx)
	case w.par == nil:
		if err = w.startPipeline(); err == nil {
			err = w.par.handOver(w.par.ctx, w)
		}
	default:
		err = w.par.handOver(w.par.ctx, w)
	}
	if err != nil {
		w.err = err
		return err
	}
	return nil
}

// encodeHere encodes the batch with the first lane, on this goroutine.
func (w *TableWriter) encodeHere(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return encodeCancelled(w.table, err)
	}
	l := w.lanes[0]
	err := l.write(&w.cur)
	w.cur.reset()
	if err != nil {
		return err
	}
	if err := l.settle(ctx); err != nil {
		return err
	}
	w.setBatchLimit()
	return nil
}

// setBatchLimit ends batches where the first lane's row group must end, so
// a row group never holds more than RowGroupRows. With several lanes it
// stays at its first value, and lanes end row groups early instead.
func (w *TableWriter) setBatchLimit() {
	w.batchLimit = w.opts.batchRows
	if left := w.opts.RowGroupRows - w.lanes[0].groupRows; left < int64(w.batchLimit) {
		w.batchLimit = int(left)
	}
}

// Close writes the remaining rows, finishes and delivers the last files,
// and reports what was written. A table without rows still gets one file,
// with the schema and no row groups. If the writer failed earlier, or fails
// now, Close removes the files being written (as Abort does) and returns
// the error. Calls after Close return ErrClosed.
func (w *TableWriter) Close(ctx context.Context) (Summary, error) {
	if w.closed {
		return w.sink.summary, ErrClosed
	}
	err := w.close(ctx)
	if err != nil {
		w.Abort()
		return Summary{}, err
	}
	w.closed = true
	w.err = ErrClosed
	w.release(w.par == nil && w.sink.summary.Bytes <= maxReusedTableBytes)
	return w.sink.summary, nil
}

func (w *TableWriter) close(ctx context.Context) error {
	if w.err != nil {
		return w.err
	}
	if w.inList || w.col != 0 {
		w.fail("Close in the middle of a row")
		return w.err
	}
	if w.par != nil {
		if err := w.par.close(ctx, w); err != nil {
			return err
		}
	} else if w.cur.rows > 0 {
		// One lane, or fewer rows than a batch: no goroutine is needed.
		if err := w.encodeHere(ctx); err != nil {
			return err
		}
	}
	// Every lane is idle now; the first finishes its file, or writes the
	// schema-only file of an empty table.
	l := w.lanes[0]
	if l.out == nil && w.sink.next == 0 {
		if err := l.open(); err != nil {
			return err
		}
	}
	if l.out != nil {
		if err := ctx.Err(); err != nil {
			return encodeCancelled(w.table, err)
		}
		return l.finish(ctx)
	}
	return nil
}

// Abort stops the writer and removes the files being written, if any.
// Files handed to the DeliverFunc are left alone. With several lanes it
// waits for their goroutines to end, which a delivery in progress delays.
// Abort may be called at any time, more than once, and after Close, when it
// does nothing; deferring it right after NewTableWriter is the usual way to
// clean up after a failure.
func (w *TableWriter) Abort() {
	if w.par != nil {
		w.par.stop()
	}
	for _, l := range w.lanes {
		l.discard()
	}
	if w.err == nil {
		w.err = ErrClosed
	}
	w.closed = true
	w.release(false)
}

// release ends the goroutines and contexts of the pipeline and lets the
// lanes go: back to the pool for the next writer of the table's shape when
// every file was finished (reuse), or to the garbage collector.
func (w *TableWriter) release(reuse bool) {
	if w.par != nil {
		w.par.stop()
		w.par = nil
	}
	if reuse {
		for _, l := range w.lanes {
			putLane(l)
		}
	}
	w.lanes = nil
}
