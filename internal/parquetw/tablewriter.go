package parquetw

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/exportd/exportd/internal/schema"
	"github.com/exportd/exportd/internal/source"
	"github.com/parquet-go/parquet-go"
)

var _ source.RowWriter = (*TableWriter)(nil)

// DeliverFunc receives each finished file, in index order, and returns when
// the file is taken care of. It runs on the goroutine writing rows, so a
// slow DeliverFunc slows the encoding down: that is the pipeline's
// backpressure. From the call on, the file belongs to the receiver, whatever
// DeliverFunc returns: the writer never touches it again, so a receiver that
// fails before taking the file removes it itself (or its directory).
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
// the target size: the file is synced, closed, renamed from its ".partial"
// name and handed to the DeliverFunc before the next row is accepted.
//
// A TableWriter is used by one goroutine. Its first error (a misuse, a
// failed write or delivery, a cancelled context) is final: every later call
// is ignored, and EndRow and Close return that error.
type TableWriter struct {
	rowBuilder

	ctx     context.Context
	dir     string
	opts    Options
	deliver DeliverFunc

	pw      *parquet.Writer
	columns []*parquet.ColumnWriter
	buf     *bufio.Writer // reused by every file

	out        *output // file being written, nil between files
	index      int     // index of out, or of the next file
	fileRows   int64
	groupRows  int64
	batchLimit int

	summary Summary
	closed  bool
}

// NewTableWriter returns a writer of table t's files into dir, created if
// needed. ctx governs the whole encode: rows are refused once it is done,
// and it is passed to deliver for every file finished by EndRow.
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
	sch, err := Schema(t)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("parquet directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("parquet directory: %w", err)
	}
	opts = opts.withDefaults()
	cfg, err := parquet.NewWriterConfig(
		sch,
		parquet.Compression(opts.codec()),
		parquet.PageBufferSize(opts.PageBufferSize),
		// The output counts and buffers itself; with no buffer inside the
		// parquet writer, the bytes it counts are the bytes of the file.
		parquet.WriteBufferSize(0),
		// Version 1 data pages are what every reader, old or new, decodes.
		parquet.DataPageVersion(1),
		// Page bounds go to the page index (column index) regardless;
		// repeating them in each page header costs a second pass over
		// every page, 15% of the CPU of an uncompressed encode.
		parquet.DataPageStatistics(false),
		parquet.DictionaryMaxBytes(dictionaryMaxBytes),
	)
	if err != nil {
		return nil, fmt.Errorf("parquet writer configuration: %w", err)
	}
	w := &TableWriter{
		rowBuilder: newRowBuilder(&t, opts.batchRows),
		ctx:        ctx,
		dir:        abs,
		opts:       opts,
		deliver:    deliver,
		pw:         parquet.NewWriter(io.Discard, cfg),
		buf:        bufio.NewWriterSize(nil, outputBufferSize),
		summary:    Summary{Table: t.Name},
	}
	w.columns = w.pw.ColumnWriters()
	w.setBatchLimit()
	return w, nil
}

func safeFileName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\\\x00")
}

// EndRow completes the current row. When a batch is complete it is written
// out, which may finish a file and deliver it.
func (w *TableWriter) EndRow() error {
	if err := w.endRow(); err != nil {
		return err
	}
	if w.batchRows < w.batchLimit && w.arena.size < batchArenaBytes {
		return nil
	}
	if err := w.flushBatch(w.ctx); err != nil {
		w.err = err
		return err
	}
	return nil
}

// flushBatch hands the batch to the column writers, then flushes the row
// group or finishes the file when they reach their bounds.
func (w *TableWriter) flushBatch(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("encode table %s: %w", w.table, err)
	}
	if w.out == nil {
		if err := w.openFile(); err != nil {
			return err
		}
	}
	for i := range w.cols {
		if values := w.cols[i].values; len(values) > 0 {
			if _, err := w.columns[i].WriteRowValues(values); err != nil {
				return fmt.Errorf("encode table %s column %s: %w", w.table, w.cols[i].name, err)
			}
		}
	}
	n := int64(w.batchRows)
	w.fileRows += n
	w.groupRows += n
	w.resetBatch()

	// Size counts the bytes written plus the row group's compressed pages
	// and its pages being filled, uncompressed: an upper bound of what the
	// file would be if the row group were flushed now.
	buffered := w.pw.Size() - w.out.written
	switch {
	case w.out.written+buffered >= w.opts.TargetFileSize:
		if err := w.finishFile(ctx); err != nil {
			return err
		}
	case w.groupRows >= w.opts.RowGroupRows || buffered >= w.opts.RowGroupBytes:
		if err := w.pw.Flush(); err != nil {
			return fmt.Errorf("write %s: %w", w.out.path, err)
		}
		w.groupRows = 0
	}
	w.setBatchLimit()
	return nil
}

// setBatchLimit ends batches where the row group must end, so a row group
// never holds more than RowGroupRows.
func (w *TableWriter) setBatchLimit() {
	w.batchLimit = w.opts.batchRows
	if left := w.opts.RowGroupRows - w.groupRows; left < int64(w.batchLimit) {
		w.batchLimit = int(left)
	}
}

func (w *TableWriter) openFile() error {
	out, err := createOutput(w.dir, w.table, w.index, w.buf)
	if err != nil {
		return err
	}
	w.out = out
	w.pw.Reset(out)
	return nil
}

// finishFile writes the footer, makes the file durable and delivers it.
func (w *TableWriter) finishFile(ctx context.Context) error {
	out := w.out
	if err := w.pw.Close(); err != nil {
		return fmt.Errorf("write %s: %w", out.path, err)
	}
	if err := out.finish(); err != nil {
		return err
	}
	f := File{
		Table:  w.table,
		Index:  w.index,
		Path:   out.path,
		Size:   out.written,
		Rows:   w.fileRows,
		SHA256: out.hash.Sum(nil),
	}
	w.out = nil
	w.index++
	w.fileRows = 0
	w.groupRows = 0
	if err := w.deliver(ctx, f); err != nil {
		return fmt.Errorf("deliver table %s file %d: %w", w.table, f.Index, err)
	}
	w.summary.Files++
	w.summary.Rows += f.Rows
	w.summary.Bytes += f.Size
	return nil
}

// Close writes the remaining rows, finishes and delivers the last file, and
// reports what was written. A table without rows still gets one file, with
// the schema and no row groups. If the writer failed earlier, or fails now,
// Close removes the file it was writing (as Abort does) and returns the
// error. Calls after Close return ErrClosed.
func (w *TableWriter) Close(ctx context.Context) (Summary, error) {
	if w.closed {
		return w.summary, ErrClosed
	}
	err := w.close(ctx)
	if err != nil {
		w.Abort()
		return Summary{}, err
	}
	w.closed = true
	w.err = ErrClosed
	w.pw = nil
	return w.summary, nil
}

func (w *TableWriter) close(ctx context.Context) error {
	if w.err != nil {
		return w.err
	}
	if w.inList || w.col != 0 {
		w.fail("Close in the middle of a row")
		return w.err
	}
	if w.batchRows > 0 {
		if err := w.flushBatch(ctx); err != nil {
			return err
		}
	}
	if w.out == nil && w.index == 0 {
		if err := w.openFile(); err != nil {
			return err
		}
	}
	if w.out != nil {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("encode table %s: %w", w.table, err)
		}
		return w.finishFile(ctx)
	}
	return nil
}

// Abort stops the writer and removes the file being written, if any. Files
// handed to the DeliverFunc are left alone. Abort may be called at any time, more than once, and after Close, when it
// does nothing; deferring it right after NewTableWriter is the usual way to
// clean up after a failure.
func (w *TableWriter) Abort() {
	if w.out != nil {
		w.out.discard()
		w.out = nil
	}
	if w.err == nil {
		w.err = ErrClosed
	}
	w.closed = true
	w.pw = nil
}
