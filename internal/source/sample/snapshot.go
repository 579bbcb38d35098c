package sample

import (
	"context"
	"fmt"
	"iter"

	"github.com/exportd/exportd/internal/schema"
	"github.com/exportd/exportd/internal/source"
)

// checkEvery is how many rows ReadTable writes between two looks at its
// context: a few milliseconds of work at most.
const checkEvery = 4096

// Snapshot is the sample data of one account. It is immutable and safe
// for concurrent use; each ReadTable call has its own buffers.
type Snapshot struct {
	w      *world
	tables []int // exported tables, in order
}

var _ source.Snapshot = (*Snapshot)(nil)

// NewSnapshot returns the sample data of account under cfg, restricted to
// and ordered as tables when that is not empty. It is what Source.Open
// returns, for tests that want to regenerate the rows a source exported.
func NewSnapshot(cfg Config, account string, tables []string) (*Snapshot, error) {
	rows, err := cfg.rowCounts()
	if err != nil {
		return nil, err
	}
	order, err := cfg.tableOrder()
	if err != nil {
		return nil, err
	}
	if len(tables) > 0 {
		valid := make([]string, len(order))
		for k, t := range order {
			valid[k] = tableNames[t]
		}
		if order, err = selectTables(tables, valid); err != nil {
			return nil, err
		}
	}
	return &Snapshot{w: newWorld(cfg.seed(), account, rows), tables: order}, nil
}

// Tables describes the snapshot's tables, in export order.
func (s *Snapshot) Tables() []schema.Table {
	ts := make([]schema.Table, len(s.tables))
	for k, t := range s.tables {
		ts[k] = tableSchema(t)
	}
	return ts
}

// Parallelism is 0: generation has no limit of its own.
func (s *Snapshot) Parallelism() int { return 0 }

// Close does nothing.
func (s *Snapshot) Close() error { return nil }

// RowCount is the number of rows ReadTable writes for table.
func (s *Snapshot) RowCount(table string) (int64, error) {
	t, err := s.table(table)
	if err != nil {
		return 0, err
	}
	return s.w.rows[t], nil
}

// ReadTable writes every row of table into w. It stops with ctx's error
// soon after ctx is done, and with EndRow's error, wrapped, as soon as
// EndRow returns one.
func (s *Snapshot) ReadTable(ctx context.Context, table string, w source.RowWriter) error {
	t, err := s.table(table)
	if err != nil {
		return err
	}
	g := newGenerator(s.w, t)
	n := s.w.rows[t]
	for i := int64(0); i < n; i++ {
		if i%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("read sample table %s: %w", table, err)
			}
		}
		g.row(w, i)
		if err := w.EndRow(); err != nil {
			return fmt.Errorf("read sample table %s, row %d: %w", table, i, err)
		}
	}
	return nil
}

// Row returns row i of table as Go values, in column order, as a Recorder
// records them (see Recorder for the Go type of each column kind). It
// produces exactly what ReadTable writes, by the same code.
func (s *Snapshot) Row(table string, i int64) ([]any, error) {
	t, err := s.table(table)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= s.w.rows[t] {
		return nil, fmt.Errorf("row %d of sample table %s is outside 0..%d", i, table, s.w.rows[t]-1)
	}
	rec := NewRecorder(tableSchema(t))
	g := newGenerator(s.w, t)
	g.row(rec, i)
	if err := rec.EndRow(); err != nil {
		return nil, fmt.Errorf("sample table %s, row %d: %w", table, i, err)
	}
	return rec.Rows()[0], nil
}

// Rows yields every row of table as Row returns them, in order. An
// unknown table yields one error and stops.
func (s *Snapshot) Rows(table string) iter.Seq2[[]any, error] {
	return func(yield func([]any, error) bool) {
		t, err := s.table(table)
		if err != nil {
			yield(nil, err)
			return
		}
		var row []any
		rec := NewRecorder(tableSchema(t))
		rec.OnRow = func(r []any) error {
			row = r
			return nil
		}
		g := newGenerator(s.w, t)
		for i := int64(0); i < s.w.rows[t]; i++ {
			g.row(rec, i)
			if err := rec.EndRow(); err != nil {
				yield(nil, fmt.Errorf("sample table %s, row %d: %w", table, i, err))
				return
			}
			if !yield(row, nil) {
				return
			}
		}
	}
}

func (s *Snapshot) table(name string) (int, error) {
	for _, t := range s.tables {
		if tableNames[t] == name {
			return t, nil
		}
	}
	valid := make([]string, len(s.tables))
	for k, t := range s.tables {
		valid[k] = tableNames[t]
	}
	return 0, unknownTable(name, valid)
}
