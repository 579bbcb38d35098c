package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/exportd/exportd/internal/schema"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/sdk"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// snapshot is one export's view of the database: a coordinator connection
// whose REPEATABLE READ transaction exported a snapshot and holds ACCESS
// SHARE locks on the tables, and the readers that import it.
type snapshot struct {
	src     *Source
	readers *pgxpool.Pool
	id      string // pg_export_snapshot()
	schema  string
	tables  []schema.Table
	reads   map[string]*tableRead

	mu    sync.Mutex
	coord *pgx.Conn // nil once closed
}

var _ source.Snapshot = (*snapshot)(nil)

// tableRead is how one table is read.
type tableRead struct {
	query   string
	formats []int16 // result format per column: 1 binary, 0 text
	oids    []uint32
	plans   []plan
	columns []string
	large   bool // see largeReads
}

// openSnapshot opens the coordinator's snapshot of pe.schema and describes
// every table's columns: connect, begin, describe, map.
func openSnapshot(ctx context.Context, s *Source, readers *pgxpool.Pool, pe perEvent, tables []string) (_ *snapshot, err error) {
	coord, reused, err := s.coordinator(ctx)
	if err != nil {
		return nil, openFailed(s, pe, "connect", err)
	}
	snap := &snapshot{src: s, readers: readers, schema: pe.schema, coord: coord, reads: map[string]*tableRead{}}
	defer func() {
		if err != nil {
			snap.Close()
		}
	}()
	if err := snap.begin(ctx, pe, tables); err != nil {
		if !reused || !coord.IsClosed() || ctx.Err() != nil {
			return nil, err
		}
		// A kept connection that died while idle: start again on a new one.
		s.forgetIdleCoordinators()
		snap.Close()
		if coord, err = pgx.ConnectConfig(ctx, s.coord); err != nil {
			return nil, openFailed(s, pe, "connect", err)
		}
		snap.mu.Lock()
		snap.coord = coord
		snap.mu.Unlock()
		if err := snap.begin(ctx, pe, tables); err != nil {
			return nil, err
		}
	}
	descs, err := snap.describe(ctx, pe, tables)
	if err != nil {
		return nil, err
	}
	if err := snap.mapColumns(ctx, pe, descs); err != nil {
		return nil, err
	}
	s.log.Debug("postgres snapshot opened", "schema", pe.schema, "snapshot", snap.id, "tables", len(snap.tables))
	return snap, nil
}

// openFailed classifies and scrubs an error met while opening a snapshot.
func openFailed(s *Source, pe perEvent, what string, err error) error {
	return s.secrets.fail(fmt.Sprintf("open snapshot of schema %s: %s", pe.schema, what), err)
}

// begin starts the coordinator's transaction and exports its snapshot.
// Tables read with the default query are locked before the first query
// takes the snapshot, as pg_dump does, so that no DDL can slip between the
// snapshot and the reads. A missing schema, table or privilege shows here.
func (snap *snapshot) begin(ctx context.Context, pe perEvent, tables []string) error {
	var lock []string
	for _, t := range tables {
		if _, custom := pe.queries[t]; !custom {
			lock = append(lock, pgx.Identifier{pe.schema, t}.Sanitize())
		}
	}
	begin := "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL search_path = " + pgx.Identifier{pe.schema}.Sanitize()
	if len(lock) > 0 {
		begin += "; LOCK TABLE " + strings.Join(lock, ", ") + " IN ACCESS SHARE MODE"
	}
	coord := snap.coord
	if _, err := coord.PgConn().Exec(ctx, begin).ReadAll(); err != nil {
		return openFailed(snap.src, pe, "begin and lock tables", err)
	}
	if err := coord.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snap.id); err != nil {
		return openFailed(snap.src, pe, "export snapshot", err)
	}
	var exists bool
	if err := coord.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", pe.schema).Scan(&exists); err != nil {
		return openFailed(snap.src, pe, "find schema", err)
	}
	if !exists {
		return permanentf("open snapshot: schema %s does not exist", pe.schema)
	}
	return nil
}

// described is a table's query and its result's columns, as the server
// describes them.
type described struct {
	name      string
	custom    bool // a table block's query
	fields    []pgconn.FieldDescription
	nullable  []bool
	fewValues []bool
	query     string
	// large: the planner's statistics say the table holds more than
	// largeTableRows rows (unknown for a table block's query).
	large bool
}

// describe prepares each table's query (the default one built from the
// catalog, or the table block's) to learn its columns.
func (snap *snapshot) describe(ctx context.Context, pe perEvent, tables []string) ([]described, error) {
	var plain []string
	for _, t := range tables {
		if _, custom := pe.queries[t]; !custom {
			plain = append(plain, t)
		}
	}
	defaults, err := defaultQueries(ctx, snap.coord, pe.schema, plain)
	if err != nil {
		return nil, openFailed(snap.src, pe, "describe tables", err)
	}
	var descs []described
	for _, t := range tables {
		d := described{name: t}
		d.query, d.custom = pe.queries[t]
		if !d.custom {
			dq, ok := defaults[t]
			if !ok {
				return nil, permanentf("table %s.%s has no columns", pe.schema, t)
			}
			d.query, d.nullable, d.fewValues, d.large = dq.query, dq.nullable, dq.fewValues, dq.rows > largeTableRows
		}
		sd, err := snap.coord.PgConn().Prepare(ctx, "", d.query, nil)
		if err != nil {
			if kind, _ := classify(err); d.custom && kind == sdk.KindConfiguration {
				return nil, sdk.ConfigError(fmt.Sprintf("table %q query", t), errors.New(snap.src.secrets.scrub(err.Error())))
			}
			return nil, openFailed(snap.src, pe, "describe table "+t, err)
		}
		d.fields = sd.Fields
		if d.custom {
			// Any column of a query may be NULL (outer joins, expressions).
			d.nullable = make([]bool, len(sd.Fields))
			d.fewValues = make([]bool, len(sd.Fields))
			for i := range d.nullable {
				d.nullable[i] = true
			}
		}
		descs = append(descs, d)
	}
	return descs, nil
}

// mapColumns maps every described column onto a schema column and a
// decoding plan.
func (snap *snapshot) mapColumns(ctx context.Context, pe perEvent, descs []described) error {
	oids := map[uint32]bool{}
	for _, d := range descs {
		for _, f := range d.fields {
			oids[f.DataTypeOID] = true
		}
	}
	list := make([]uint32, 0, len(oids))
	for o := range oids {
		list = append(list, o)
	}
	types, err := loadTypes(ctx, snap.coord, list)
	if err != nil {
		return openFailed(snap.src, pe, "read pg_type", err)
	}
	m := &mapper{types: types, numeric: snap.src.st.numeric}
	for _, d := range descs {
		tbl, r, err := m.table(d)
		if err != nil {
			attr := "tables"
			if d.custom {
				attr = fmt.Sprintf("table %q query", d.name)
			}
			return sdk.ConfigError(attr, fmt.Errorf("schema %s: %w", pe.schema, err))
		}
		snap.tables = append(snap.tables, tbl)
		snap.reads[d.name] = r
	}
	return nil
}

// table maps one described table.
func (m *mapper) table(d described) (schema.Table, *tableRead, error) {
	n := len(d.fields)
	tbl := schema.Table{Name: d.name, Columns: make([]schema.Column, n)}
	r := &tableRead{query: d.query, formats: make([]int16, n), oids: make([]uint32, n), plans: make([]plan, n), columns: make([]string, n), large: d.large}
	for i, f := range d.fields {
		c, p, textual, err := m.column(f.Name, f.DataTypeOID, f.TypeModifier, d.nullable[i])
		if err != nil {
			return tbl, nil, fmt.Errorf("table %s column %s: %w", d.name, f.Name, err)
		}
		if d.fewValues[i] && c.Kind == schema.String {
			c.LowCardinality = true
		}
		tbl.Columns[i], r.plans[i], r.oids[i], r.columns[i] = c, p, f.DataTypeOID, f.Name
		r.formats[i] = 1
		if textual {
			r.formats[i] = 0
		}
	}
	if err := tbl.Validate(); err != nil {
		return tbl, nil, err
	}
	return tbl, r, nil
}

// defaultQuery is the query of a table read without a table block, and
// what the catalog says of its columns.
type defaultQuery struct {
	query     string
	nullable  []bool
	fewValues []bool
	rows      float64 // the planner's estimate; negative when unknown
}

// defaultQueries builds, in one catalog query, the query of every table
// read without a table block: every column, in order, by name. A column
// declared with two or more array dimensions (int[][]) is selected as
// array_to_json(col), JSON text that keeps its nesting, since a LIST
// cannot. It also reports which columns may be NULL, and which the
// planner's statistics say hold few distinct values: those are worth a
// dictionary (a wrong guess costs nothing, the writer falls back to plain
// encoding). A table without columns is left out.
func defaultQueries(ctx context.Context, conn *pgx.Conn, schemaName string, tables []string) (map[string]*defaultQuery, error) {
	out := make(map[string]*defaultQuery, len(tables))
	if len(tables) == 0 {
		return out, nil
	}
	rows, err := conn.Query(ctx, `
SELECT c.relname::text, a.attname, a.attnotnull, a.attndims,
       coalesce(s.n_distinct BETWEEN 1 AND $3, false), c.reltuples::float8
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = a.attname AND NOT s.inherited
WHERE n.nspname = $1 AND c.relname = ANY($2::name[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum`, schemaName, tables, maxDictionaryValues)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols := map[string][]string{}
	for rows.Next() {
		var table, name string
		var notNull, few bool
		var dims int32
		var estimate float64
		if err := rows.Scan(&table, &name, &notNull, &dims, &few, &estimate); err != nil {
			return nil, err
		}
		id := pgx.Identifier{name}.Sanitize()
		if dims >= 2 {
			id = "array_to_json(" + id + ") AS " + id
		}
		dq := out[table]
		if dq == nil {
			dq = &defaultQuery{rows: estimate}
			out[table] = dq
		}
		cols[table] = append(cols[table], id)
		dq.nullable = append(dq.nullable, !notNull)
		dq.fewValues = append(dq.fewValues, few)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for table, dq := range out {
		dq.query = "SELECT " + strings.Join(cols[table], ", ") + " FROM " + pgx.Identifier{schemaName, table}.Sanitize()
	}
	return out, nil
}

// maxDictionaryValues is the most distinct values (by the planner's
// statistics) for which a string column is marked low-cardinality.
const maxDictionaryValues = 10000

func (s *snapshot) Tables() []schema.Table { return s.tables }

func (s *snapshot) Parallelism() int { return s.src.st.parallel }

// Close ends the coordinator's transaction and keeps its connection for
// the next snapshot (coordinators.go). Readers still running keep their
// imported snapshot. It is safe to call more than once.
func (s *snapshot) Close() error {
	s.mu.Lock()
	coord := s.coord
	s.coord = nil
	s.mu.Unlock()
	if coord == nil {
		return nil
	}
	s.src.keepCoordinator(coord)
	return nil
}
