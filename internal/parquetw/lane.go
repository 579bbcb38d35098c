package parquetw

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/exportd/exportd/internal/schema"
	"github.com/parquet-go/parquet-go"
)

// lane encodes batches into files of one table, one file at a time: it
// owns a parquet writer, the file being written and the state of its row
// group. With one lane the TableWriter drives it on the caller's goroutine;
// with several, each lane runs on a goroutine of its own (pipeline.go).
type lane struct {
	table   *schema.Table
	opts    *Options
	sink    *sink
	cfg     *parquet.WriterConfig
	pw      *parquet.Writer
	columns []*parquet.ColumnWriter
	buf     *bufio.Writer // reused by every file of the lane
	// oversized is set when the file being written holds a value of
	// oversizedValue bytes or more: the parquet writer's buffers grew to
	// hold it, and keep that size, so the lane replaces the writer once
	// the file is finished.
	oversized bool
	key       string // the lane's shape, for reuse (lanepool.go)

	out       *output // file being written, nil between files
	fileRows  int64
	groupRows int64
}

func newLane(t *schema.Table, opts *Options, s *sink) (*lane, error) {
	// Each lane builds its own schema, so that nothing the parquet writers
	// may cache in it is shared between goroutines.
	sch, err := Schema(*t)
	if err != nil {
		return nil, err
	}
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
	l := &lane{
		table: t,
		opts:  opts,
		sink:  s,
		cfg:   cfg,
		buf:   bufio.NewWriterSize(nil, outputBufferSize),
	}
	l.renew()
	return l, nil
}

// oversizedValue is the size of a value from which a lane renews its
// parquet writer after the file holding it. parquet-go keeps its column
// buffers and page bounds at the largest size they reached, for as long as
// the writer lives: without renewal, one 64 MiB value would pin some four
// times its size until the table ends.
const oversizedValue = 8 << 20

// renew gives the lane a fresh parquet writer.
func (l *lane) renew() {
	l.pw = parquet.NewWriter(io.Discard, l.cfg)
	l.columns = l.pw.ColumnWriters()
	l.oversized = false
}

// write hands a batch's values to the column writers, opening a file if
// none is open. The batch may be reset as soon as it returns: the column
// writers copy what they keep.
func (l *lane) write(b *batch) error {
	if l.out == nil {
		if err := l.open(); err != nil {
			return err
		}
	}
	n := int64(b.rows)
	if b.arena.largest >= oversizedValue {
		l.oversized = true
	}
	// With one lane the builder ends batches where the row group must end.
	// With several it cannot know whose row group a batch joins, so the
	// lane ends its row group before a batch that would overfill it.
	if l.groupRows > 0 && l.groupRows+n > l.opts.RowGroupRows {
		if err := l.flushRowGroup(); err != nil {
			return err
		}
	}
	for i, values := range b.values {
		if len(values) > 0 {
			if _, err := l.columns[i].WriteRowValues(values); err != nil {
				return fmt.Errorf("encode table %s column %s: %w", l.table.Name, l.table.Columns[i].Name, err)
			}
		}
	}
	l.fileRows += n
	l.groupRows += n
	return nil
}

// settle finishes the file when it reaches the target size, or flushes the
// row group when it reaches its bounds.
func (l *lane) settle(ctx context.Context) error {
	// Size counts the bytes written plus the row group's compressed pages
	// and its pages being filled, uncompressed: an upper bound of what the
	// file would be if the row group were flushed now.
	buffered := l.pw.Size() - l.out.written
	switch {
	case l.out.written+buffered >= l.opts.TargetFileSize:
		return l.finish(ctx)
	case l.groupRows >= l.opts.RowGroupRows || buffered >= l.opts.RowGroupBytes:
		return l.flushRowGroup()
	}
	return nil
}

func (l *lane) flushRowGroup() error {
	if err := l.pw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", l.out.path, err)
	}
	l.groupRows = 0
	return nil
}

func (l *lane) open() error {
	out, err := createOutput(l.sink.dir, l.table.Name, l.sink.opened.Add(1)-1, l.buf)
	if err != nil {
		return err
	}
	l.out = out
	l.pw.Reset(out)
	return nil
}

// finish writes the footer, closes the file and delivers it.
func (l *lane) finish(ctx context.Context) error {
	out, rows := l.out, l.fileRows
	l.out, l.fileRows, l.groupRows = nil, 0, 0
	if err := l.pw.Close(); err != nil {
		out.discard()
		return fmt.Errorf("write %s: %w", out.path, err)
	}
	keepColumnPaths(l.pw)
	if l.oversized {
		l.renew()
	}
	if err := out.close(); err != nil {
		out.discard()
		return err
	}
	return l.sink.deliver(ctx, out, rows)
}

// keepColumnPaths protects the column paths of a closed writer from its
// next Reset. parquet-go (v0.32.0, its issue 602) builds each column
// chunk's path_in_schema on the very strings its column writers keep their
// paths in, and Reset clears the column chunks of the file it closed: every
// later file of the writer would name its columns [""], which parquet-mr
// and Trino (Spark, Hive, Athena) refuse. Giving the closed file's chunks
// copies of their paths makes Reset clear the copies.
func keepColumnPaths(pw *parquet.Writer) {
	f := pw.File()
	if f == nil {
		return
	}
	md := f.Metadata()
	for i := range md.RowGroups {
		cols := md.RowGroups[i].Columns
		for j := range cols {
			p := &cols[j].MetaData.PathInSchema
			*p = slices.Clone(*p)
		}
	}
}

// discard removes the file being written, if any.
func (l *lane) discard() {
	if l.out != nil {
		l.out.discard()
		l.out = nil
	}
}

// sink numbers a table's finished files and hands them to the DeliverFunc
// one at a time, in index order. The lanes of a table share it.
type sink struct {
	dir     string
	table   string
	fn      DeliverFunc
	maxSize int64        // no file may be larger; 0: no limit
	opened  atomic.Int64 // partial files created; numbers the next one
	failure *failure     // the writer's first error, with several lanes

	// mu is held from the moment a file gets its index until its delivery
	// returns, so that indexes follow delivery order and a lane finishing
	// a file while another delivers waits: backpressure.
	mu      sync.Mutex
	next    int // index of the next file
	summary Summary
}

// deliver gives a closed file its index and final name and hands it over.
// After a failure elsewhere it removes the file instead: the writer's first
// error is final.
func (s *sink) deliver(ctx context.Context, out *output, rows int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failure != nil {
		if err := s.failure.get(); err != nil {
			out.discard()
			return err
		}
	}
	if err := s.deliverLocked(ctx, out, rows); err != nil {
		// Recorded before the next lane can take the lock, so that no file
		// is delivered after a failed one.
		if s.failure != nil {
			return s.failure.set(err)
		}
		return err
	}
	return nil
}

func (s *sink) deliverLocked(ctx context.Context, out *output, rows int64) error {
	if s.maxSize > 0 && out.written > s.maxSize {
		out.discard()
		return fmt.Errorf("table %s: a file of %d bytes (%d rows): %w, at most %d bytes; lower the parquet target_file_size, or the source's largest value",
			s.table, out.written, rows, ErrFileTooLarge, s.maxSize)
	}
	index := s.next
	if err := out.commit(filepath.Join(s.dir, fileName(s.table, index))); err != nil {
		out.discard()
		return err
	}
	s.next++
	f := File{
		Table:  s.table,
		Index:  index,
		Path:   out.path,
		Size:   out.written,
		Rows:   rows,
		SHA256: out.hash.Sum(nil),
	}
	// From here the file is the receiver's, whatever it returns.
	if err := s.fn(ctx, f); err != nil {
		return fmt.Errorf("deliver table %s file %d: %w", s.table, f.Index, err)
	}
	s.summary.Files++
	s.summary.Rows += f.Rows
	s.summary.Bytes += f.Size
	return nil
}
