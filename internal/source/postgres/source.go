package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/sdk"
	"github.com/hashicorp/hcl/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func init() { source.Register("postgres", New) }

// Source reads consistent snapshots of one PostgreSQL database. It holds a
// pool of reader connections, parallelism at most, shared by every export;
// each open snapshot also holds one coordinator connection of its own, so
// that readers waiting for the pool never starve the coordinators they
// depend on. Coordinators are kept for the next snapshots once theirs
// closes (coordinators.go).
type Source struct {
	st      *settings
	log     *slog.Logger
	secrets secrets
	pool    *pgxpool.Config // reader connections
	coord   *pgx.ConnConfig // coordinator connections

	// largeReads bounds the reader connections that large tables hold
	// (see largeRead).
	largeReads chan struct{}

	mu      sync.Mutex
	readers *pgxpool.Pool // made on first Open, so startup needs no database
	idle    []idleCoordinator
	closed  bool
}

var _ source.Source = (*Source)(nil)

// New is the factory of source "postgres": it checks the block now (with
// the event unknown) and keeps the per-event expressions for Open. It does
// not connect: the daemon starts, and says what is wrong with its
// configuration, whether or not the database is up.
func New(body hcl.Body, env source.Env) (source.Source, hcl.Diagnostics) {
	st, diags := decode(body, env)
	if diags.HasErrors() {
		return nil, diags
	}
	pc, err := parseDSN(st.dsn, st)
	if err != nil {
		// decode has reported it already.
		return nil, append(diags, errorAt(body.MissingItemRange(), "Invalid DSN", err.Error()))
	}
	coord := pc.ConnConfig.Copy()
	// The coordinator sits idle in its transaction while the readers work;
	// like pg_dump, it must not be cut off for that.
	coord.RuntimeParams["idle_in_transaction_session_timeout"] = "0"
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{
		st:         st,
		log:        log,
		secrets:    newSecrets(st.dsn, pc.ConnConfig.Password),
		pool:       pc,
		coord:      coord,
		largeReads: make(chan struct{}, max(st.parallel-1, 1)),
	}, diags
}

// parseDSN builds the reader pool's configuration from a DSN (keyword/value
// or URL, with every TLS and pool setting pgx accepts) and the block's
// settings. Its errors never hold the password.
func parseDSN(dsn string, st *settings) (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New(newSecrets(dsn, "").scrub(err.Error()))
	}
	pc.MaxConns = int32(st.parallel)
	// A value over max_value_size stops the read before it is in memory.
	pc.ConnConfig.BuildFrontend = guardedFrontend(st.maxValueSize)
	pc.MinConns = 0
	rp := pc.ConnConfig.RuntimeParams
	if rp["application_name"] == "" {
		rp["application_name"] = "exportd"
	}
	if st.statementTimeout > 0 {
		rp["statement_timeout"] = strconv.FormatInt(st.statementTimeout.Milliseconds(), 10)
	}
	if st.lockTimeout > 0 {
		rp["lock_timeout"] = strconv.FormatInt(st.lockTimeout.Milliseconds(), 10)
	}
	return pc, nil
}

// Open starts a snapshot of the account named by the event: it evaluates
// the schema and queries for the event, begins the coordinator's
// transaction, exports its snapshot and discovers every table's columns.
// The event's snapshot field is not used (see the package documentation).
func (s *Source) Open(ctx context.Context, req source.Request) (source.Snapshot, error) {
	pe, err := s.st.forEvent(&req.Event)
	if err != nil {
		return nil, err
	}
	tables := s.st.tables
	if len(req.Tables) > 0 {
		for _, t := range req.Tables {
			if !contains(s.st.tables, t) {
				return nil, permanentf("table %s is not among the tables of source postgres (%v)", t, s.st.tables)
			}
		}
		tables = req.Tables
	}
	readers, err := s.readerPool(ctx)
	if err != nil {
		return nil, err
	}
	return openSnapshot(ctx, s, readers, pe, tables)
}

func (s *Source) readerPool(ctx context.Context) (*pgxpool.Pool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, sdk.Permanent(errors.New("source postgres is closed"))
	}
	if s.readers == nil {
		p, err := pgxpool.NewWithConfig(ctx, s.pool)
		if err != nil {
			return nil, s.secrets.fail("create connection pool", err)
		}
		s.readers = p
	}
	return s.readers, nil
}

// Close closes the reader pool, waiting for connections in use to be
// released. It is safe to call more than once.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.readers != nil {
		s.readers.Close()
		s.readers = nil
	}
	for _, c := range s.idle {
		closeCoordinator(c.conn)
	}
	s.idle = nil
	return nil
}

// largeTableRows is the planner's estimate of rows above which a table's
// read is large.
const largeTableRows = 100000

// largeRead waits until a large table may take a reader connection: large
// tables hold at most all readers but one (with parallelism 2 or more),
// so that the small tables of small accounts' exports never wait behind
// the long reads of a large account. It returns the function that gives
// the place back.
func (s *Source) largeRead(ctx context.Context) (func(), error) {
	select {
	case s.largeReads <- struct{}{}:
		return func() { <-s.largeReads }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Parallelism is the configured number of concurrent table readers.
func (s *Source) Parallelism() int { return s.st.parallel }

// cleanupTimeout bounds the goodbye to the server when a snapshot closes:
// Close has no context, and a dead server must not hang it.
const cleanupTimeout = 5 * time.Second

func configError(attr string, err error) error {
	return sdk.ConfigError(attr, fmt.Errorf("%w", err))
}
