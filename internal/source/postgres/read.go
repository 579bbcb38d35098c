package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/sdk"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ReadTable streams the table's rows into w on a reader connection of its
// own that imported the snapshot. Rows are read ahead in bounded batches
// (see batch.go) and decoded from the binary wire format straight into w's
// calls, on the caller's goroutine: memory is bounded by the batches,
// never by the table.
func (s *snapshot) ReadTable(ctx context.Context, table string, w source.RowWriter) (err error) {
	r, ok := s.reads[table]
	if !ok {
		return permanentf("table %s is not part of this snapshot", table)
	}
	fail := func(what string, err error) error {
		return s.src.secrets.fail(fmt.Sprintf("read table %s.%s: %s", s.schema, table, what), err)
	}
	start := time.Now()
	if r.large {
		release, err := s.src.largeRead(ctx)
		if err != nil {
			return fail("wait for a reader", err)
		}
		defer release()
	}
	conn, err := s.readers.Acquire(ctx)
	if err != nil {
		return fail("acquire a connection", err)
	}
	pc := conn.Conn().PgConn()
	clean := false
	defer func() {
		if !clean {
			// The connection is mid-result or mid-transaction: closing
			// the socket is quicker than draining the rest of the table,
			// and the pool then discards it.
			pc.Conn().Close()
		}
		conn.Release()
	}()

	if err := s.importSnapshot(ctx, pc); err != nil {
		return fail("import snapshot", err)
	}
	rr := pc.ExecParams(ctx, r.query, nil, nil, nil, r.formats)
	if err := s.checkColumns(rr, r, table); err != nil {
		return err
	}
	rows, err := s.stream(pc, rr, r, table, w)
	if err != nil {
		return err
	}
	if _, err := pc.Exec(ctx, "COMMIT").ReadAll(); err != nil {
		return fail("commit", err)
	}
	clean = true
	s.src.log.Debug("postgres table read", "schema", s.schema, "table", table, "rows", rows, "duration", time.Since(start))
	return nil
}

// importSnapshot begins a reader's transaction in the coordinator's
// snapshot.
func (s *snapshot) importSnapshot(ctx context.Context, pc *pgconn.PgConn) error {
	begin := "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT " +
		quoteLiteral(s.id) + "; SET LOCAL search_path = " + pgx.Identifier{s.schema}.Sanitize()
	_, err := pc.Exec(ctx, begin).ReadAll()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "22023" {
		// "invalid snapshot identifier": the coordinator's transaction is
		// gone (its connection was lost). Another try starts a new one.
		return sdk.Retryable(fmt.Errorf("the coordinator connection was lost: %w", err))
	}
	return err
}

// checkColumns checks, once ExecParams has read the row description (or
// the error), that the columns are still what Open described: the
// coordinator's locks make a change unlikely, but a table query over
// tables it did not lock can still see one.
func (s *snapshot) checkColumns(rr *pgconn.ResultReader, r *tableRead, table string) error {
	fields := rr.FieldDescriptions()
	if fields == nil {
		return nil
	}
	if len(fields) != len(r.oids) {
		return sdk.Retryable(fmt.Errorf("read table %s.%s: it has %d columns, %d when the export began", s.schema, table, len(fields), len(r.oids)))
	}
	for i, f := range fields {
		if f.DataTypeOID != r.oids[i] {
			return sdk.Retryable(fmt.Errorf("read table %s.%s: column %s changed type since the export began", s.schema, table, r.columns[i]))
		}
	}
	return nil
}

// stream decodes the result's rows into w while pump reads ahead (see
// batch.go). On any failure it closes the socket, which ends the pump, and
// waits for it: no goroutine outlives the call.
func (s *snapshot) stream(pc *pgconn.PgConn, rr *pgconn.ResultReader, r *tableRead, table string, w source.RowWriter) (rows int, err error) {
	if serialReads {
		return s.streamSerial(rr, r, table, w)
	}
	free := make(chan *batch, batchCount)
	for range batchCount {
		free <- newBatch(len(r.plans))
	}
	full := make(chan *batch)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		pump(rr, free, full, stop)
	}()
	defer func() {
		if err != nil {
			close(stop)
			// Unblocks a pump waiting on the network.
			pc.Conn().Close()
		}
		<-done
	}()
	dec := rowDecoder{plans: r.plans, w: w}
	for {
		b := <-full
		for i := range b.rows {
			if err := s.row(&dec, b.row(i), table, r, rows); err != nil {
				return rows, err
			}
			rows++
		}
		if b.last {
			return rows, s.ended(b.err, table, r, rows)
		}
		free <- b
	}
}

// serialReads makes stream decode each row as it comes off the socket,
// without reading ahead: the benchmark's baseline for the batched design.
var serialReads = false

func (s *snapshot) streamSerial(rr *pgconn.ResultReader, r *tableRead, table string, w source.RowWriter) (rows int, err error) {
	dec := rowDecoder{plans: r.plans, w: w}
	for rr.NextRow() {
		if err := s.row(&dec, rr.Values(), table, r, rows); err != nil {
			return rows, err
		}
		rows++
	}
	_, err = rr.Close()
	return rows, s.ended(err, table, r, rows)
}

// ended turns how a table's result ended, after rows rows, into the read's
// error.
func (s *snapshot) ended(err error, table string, r *tableRead, rows int) error {
	if err == nil {
		return nil
	}
	var big *valueTooLargeError
	if errors.As(err, &big) && big.column >= 0 && big.column < len(r.columns) {
		// Retrying reads the same value again: only a larger
		// max_value_size, or a table query that leaves the value out, helps.
		return permanentf("read table %s.%s: row %d: column %s: %v; raise max_value_size or select less in a table query",
			s.schema, table, rows+1, r.columns[big.column], big)
	}
	return s.src.secrets.fail(fmt.Sprintf("read table %s.%s: after %d rows", s.schema, table, rows), err)
}

func (s *snapshot) row(dec *rowDecoder, vals [][]byte, table string, r *tableRead, n int) error {
	col, err := dec.row(vals)
	if err == nil {
		return nil
	}
	if col < 0 {
		// The writer refused the row: its error is final for the table
		// and already says why.
		return fmt.Errorf("read table %s.%s: row %d: %w", s.schema, table, n+1, err)
	}
	return permanentf("read table %s.%s: row %d: column %s %s", s.schema, table, n+1, r.columns[col], err.Error())
}
