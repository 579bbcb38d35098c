package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
	"github.com/jackc/pgx/v5/pgconn"
)

// counter is a RowWriter that counts rows and runs a hook after each.
type counter struct {
	rows  int
	onRow func(n int)
}

func (c *counter) Null()           {}
func (c *counter) Bool(bool)       {}
func (c *counter) Int32(int32)     {}
func (c *counter) Int64(int64)     {}
func (c *counter) BigInt(*big.Int) {}
func (c *counter) Float32(float32) {}
func (c *counter) Float64(float64) {}
func (c *counter) Bytes([]byte)    {}
func (c *counter) String(string)   {}
func (c *counter) Fixed([]byte)    {}
func (c *counter) BeginList(int)   {}
func (c *counter) EndList()        {}
func (c *counter) EndRow() error {
	c.rows++
	if c.onRow != nil {
		c.onRow(c.rows)
	}
	return nil
}

// failureDB is a database with schema acct_f holding a small table, a big
// one (enough rows that a read outlasts the socket buffers), and a table
// its owner keeps to itself.
func failureDB(t *testing.T) (*testsupport.Postgres, testsupport.Database) {
	pg := testsupport.SharedPostgres(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db.Name, `SET ROLE `+db.User+`; CREATE SCHEMA acct_f;
	  CREATE TABLE acct_f.small AS SELECT g AS id FROM generate_series(1, 10) g;
	  CREATE TABLE acct_f.big AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 300000) g;
	  CREATE TABLE acct_f.private (id int);`)
	return pg, db
}

func TestMissingSchemaOrTableIsPermanent(t *testing.T) {
	_, db := failureDB(t)
	for _, tc := range []struct {
		name, account, tables, want string
	}{
		{"schema", "nosuch", `["small"]`, `schema "acct_nosuch" does not exist`},
		{"schema, table queries only", "nosuch", `["small"]` + "\ntable \"small\" { query = \"SELECT 1 AS one\" }", "schema acct_nosuch does not exist"},
		{"table", "f", `["small", "nope"]`, `relation "acct_f.nope" does not exist`},
		{"table in a query", "f", `["small"]` + "\ntable \"small\" { query = \"SELECT * FROM nope\" }", `relation "nope" does not exist`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_${event.account_id}\"\ntables = %s\n", db.DSN, tc.tables))
			_, err := s.Open(testContext(t), sourceRequest(ev(tc.account)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want %q", err, tc.want)
			}
			if k := kindOf(err); k != "permanent" {
				t.Errorf("kind %s, want permanent (%v)", k, err)
			}
		})
	}
}

func TestPermissionDeniedIsPermanent(t *testing.T) {
	pg, db := failureDB(t)
	pg.Exec(t, db.Name, `CREATE ROLE reader_f LOGIN PASSWORD 'reader-pw';
	  GRANT USAGE ON SCHEMA acct_f TO reader_f; GRANT SELECT ON acct_f.small TO reader_f;`)
	dsn := pg.TCPDSN(db.Name, "reader_f", "reader-pw")
	t.Run("locked at open", func(t *testing.T) {
		s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_f\"\ntables = [\"small\", \"private\"]\n", dsn))
		_, err := s.Open(testContext(t), sourceRequest(ev("f")))
		if err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Fatalf("Open: %v, want permission denied", err)
		}
		if k := kindOf(err); k != "permanent" {
			t.Errorf("kind %s, want permanent", k)
		}
	})
	t.Run("read through a query", func(t *testing.T) {
		s := newSource(t, fmt.Sprintf(`
dsn = %q
schema = "acct_f"
tables = ["private"]
table "private" { query = "SELECT * FROM private" }
`, dsn))
		ctx := testContext(t)
		snap, err := s.Open(ctx, sourceRequest(ev("f")))
		if err != nil {
			t.Fatal(err)
		}
		defer snap.Close()
		err = snap.ReadTable(ctx, "private", &counter{})
		if err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Fatalf("ReadTable: %v, want permission denied", err)
		}
		if k := kindOf(err); k != "permanent" {
			t.Errorf("kind %s, want permanent", k)
		}
	})
}

func TestStatementTimeoutIsRetryable(t *testing.T) {
	_, db := failureDB(t)
	s := newSource(t, fmt.Sprintf(`
dsn = %q
schema = "acct_f"
statement_timeout = "100ms"
tables = ["small"]
table "small" { query = "SELECT x.* FROM small x CROSS JOIN pg_sleep(2)" }
`, db.DSN))
	ctx := testContext(t)
	snap, err := s.Open(ctx, sourceRequest(ev("f")))
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	start := time.Now()
	err = snap.ReadTable(ctx, "small", &counter{})
	if err == nil || !strings.Contains(err.Error(), "statement timeout") {
		t.Fatalf("ReadTable: %v, want a statement timeout", err)
	}
	if k := kindOf(err); k != "retryable" {
		t.Errorf("kind %s, want retryable", k)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("the timeout took %v", d)
	}
}

// readerPID finds the backend reading table of schema for role.
func readerPID(t *testing.T, pg *testsupport.Postgres, role, table string) string {
	return pg.ExecScalar(t, "postgres", fmt.Sprintf(
		`SELECT pid FROM pg_stat_activity WHERE usename = '%s' AND query LIKE '%%FROM "acct_f"."%s"%%' AND state = 'active'`, role, table))
}

func TestConnectionKilledMidReadIsRetryable(t *testing.T) {
	pg, db := failureDB(t) // first, so that the shared server's goroutine counts as before
	checkNoGoroutineLeak(t)
	checkNoConnections(t, pg, db.User)
	s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_f\"\ntables = [\"big\"]\n", db.DSN))
	ctx := testContext(t)
	snap, err := s.Open(ctx, sourceRequest(ev("f")))
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	w := &counter{onRow: func(n int) {
		if n == 1000 {
			pid := readerPID(t, pg, db.User, "big")
			pg.ExecScalar(t, "postgres", "SELECT pg_terminate_backend("+pid+")")
		}
	}}
	err = snap.ReadTable(ctx, "big", w)
	if err == nil {
		t.Fatalf("ReadTable succeeded after its backend was terminated (%d rows)", w.rows)
	}
	if k := kindOf(err); k != "retryable" {
		t.Errorf("kind %s, want retryable (%v)", k, err)
	}
	if w.rows >= 300000 {
		t.Errorf("read all %d rows despite the kill", w.rows)
	}
	t.Logf("after %d rows: %v", w.rows, err)
	// The pool replaced the dead connection: the next read works.
	if err := snap.ReadTable(ctx, "big", &counter{}); err != nil {
		t.Errorf("read after the kill: %v", err)
	}
}

func TestCoordinatorLostIsRetryable(t *testing.T) {
	pg, db := failureDB(t)
	s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_f\"\ntables = [\"small\"]\n", db.DSN))
	ctx := testContext(t)
	snap, err := s.Open(ctx, sourceRequest(ev("f")))
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	pg.ExecScalar(t, "postgres", fmt.Sprintf(
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '%s' AND state = 'idle in transaction'`, db.User))
	// pg_terminate_backend only signals: wait until the coordinator's
	// session, and with it the snapshot, is gone.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n := pg.ExecScalar(t, "postgres", fmt.Sprintf(`SELECT count(*) FROM pg_stat_activity WHERE usename = '%s' AND state = 'idle in transaction'`, db.User))
		if n == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the coordinator's session outlived pg_terminate_backend by 10s")
		}
	}
	err = snap.ReadTable(ctx, "small", &counter{})
	if err == nil || kindOf(err) != "retryable" {
		t.Fatalf("ReadTable after the coordinator died: %v (kind %s), want a retryable error", err, kindOf(err))
	}
}

func TestCancelMidReadReturnsPromptly(t *testing.T) {
	pg, db := failureDB(t) // first, so that the shared server's goroutine counts as before
	checkNoGoroutineLeak(t)
	checkNoConnections(t, pg, db.User)
	s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_f\"\ntables = [\"big\"]\n", db.DSN))
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	snap, err := s.Open(ctx, sourceRequest(ev("f")))
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	var cancelled time.Time
	w := &counter{onRow: func(n int) {
		if n == 100 {
			cancelled = time.Now()
			cancel()
		}
	}}
	err = snap.ReadTable(ctx, "big", w)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadTable: %v, want context.Canceled", err)
	}
	if d := time.Since(cancelled); d > 2*time.Second {
		t.Errorf("returned %v after the cancel", d)
	}
}

func TestWriterErrorStopsTheRead(t *testing.T) {
	_, db := failureDB(t)
	s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_f\"\ntables = [\"big\"]\n", db.DSN))
	ctx := testContext(t)
	snap, err := s.Open(ctx, sourceRequest(ev("f")))
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	boom := errors.New("disk full")
	start := time.Now()
	err = snap.ReadTable(ctx, "big", &failingWriter{after: 10, err: boom})
	if !errors.Is(err, boom) {
		t.Fatalf("ReadTable: %v, want the writer's error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v: the rest of the table was drained", d)
	}
}

type failingWriter struct {
	counter
	after int
	err   error
}

func (f *failingWriter) EndRow() error {
	f.rows++
	if f.rows >= f.after {
		return f.err
	}
	return nil
}

func TestPasswordNeverInErrors(t *testing.T) {
	pg, db := failureDB(t)
	const secret = "Sup3r-Secret-Passw0rd"
	pg.Exec(t, db.Name, "ALTER ROLE "+db.User+" PASSWORD '"+secret+"'")
	closed := testsupport.StartPostgres(t)
	closedPort := closed.Port
	closed.Stop()
	for _, tc := range []struct {
		name, dsn, kind string
	}{
		{"wrong password", pg.TCPDSN(db.Name, db.User, secret+"x"), "configuration"},
		{"unknown database", pg.TCPDSN("nosuchdb", db.User, secret), "configuration"},
		{"server down", fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=2", db.User, secret, closedPort, db.Name), "retryable"},
		{"keyword form, server down", fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s dbname=x sslmode=disable connect_timeout=2", closedPort, db.User, secret), "retryable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_f\"\ntables = [\"small\"]\n", tc.dsn))
			_, err := s.Open(testContext(t), sourceRequest(ev("f")))
			if err == nil {
				t.Fatal("Open succeeded")
			}
			for e := error(err); e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), secret) || strings.Contains(fmt.Sprintf("%+v", e), secret) {
					t.Fatalf("the password shows in an error of the chain: %v", e)
				}
			}
			if k := kindOf(err); k != tc.kind {
				t.Errorf("kind %s, want %s (%v)", k, tc.kind, err)
			}
			if tc.kind == "configuration" && sdk.AttributeOf(err) != "dsn" {
				t.Errorf("attribute %q, want dsn", sdk.AttributeOf(err))
			}
			t.Log(err)
		})
	}
	t.Run("unparseable", func(t *testing.T) {
		_, diags := New(parseBody(t, fmt.Sprintf("dsn = %q\nschema = \"s\"\n", "postgres://u:"+secret+"@127.0.0.1:notaport/db")), testEnv())
		if !diags.HasErrors() {
			t.Fatal("no diagnostic")
		}
		if strings.Contains(diags.Error(), secret) {
			t.Fatalf("the password shows in %v", diags)
		}
		t.Log(diags)
	})
}

func TestRequestTables(t *testing.T) {
	_, db := failureDB(t)
	s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_f\"\ntables = [\"small\", \"big\"]\n", db.DSN))
	ctx := testContext(t)
	snap, err := s.Open(ctx, source.Request{Event: ev("f"), Tables: []string{"small"}})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if n := len(snap.Tables()); n != 1 || snap.Tables()[0].Name != "small" {
		t.Errorf("tables %v, want small only", snap.Tables())
	}
	if err := snap.ReadTable(ctx, "big", &counter{}); err == nil {
		t.Error("read a table outside the request")
	}
	if _, err := s.Open(ctx, source.Request{Event: ev("f"), Tables: []string{"companies"}}); err == nil || kindOf(err) != "permanent" {
		t.Errorf("Open of an unconfigured table: %v", err)
	}
}

func TestLockTimeoutIsRetryable(t *testing.T) {
	pg, db := failureDB(t)
	// A migration holds the table: the export cannot lock it.
	ctx := testContext(t)
	holder, err := pgconn.Connect(ctx, pg.SocketDSN(db.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	if _, err := holder.Exec(ctx, "BEGIN; LOCK TABLE acct_f.small IN ACCESS EXCLUSIVE MODE").ReadAll(); err != nil {
		t.Fatal(err)
	}
	s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_f\"\nlock_timeout = \"200ms\"\ntables = [\"small\"]\n", db.DSN))
	_, err = s.Open(ctx, sourceRequest(ev("f")))
	if err == nil || !strings.Contains(err.Error(), "lock timeout") {
		t.Fatalf("Open: %v, want a lock timeout", err)
	}
	if k := kindOf(err); k != "retryable" {
		t.Errorf("kind %s, want retryable", k)
	}
}

// TestCheck covers what `exportd validate -check` relies on: opening and
// closing a snapshot reports a missing schema or an unmappable column.
func TestCheck(t *testing.T) {
	pg, db := failureDB(t)
	ctx := testContext(t)
	s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_${event.account_id}\"\ntables = [\"small\"]\n", db.DSN))
	check := func(s *Source, e event.ModellingCompleted) error {
		snap, err := s.Open(ctx, sourceRequest(e))
		if err != nil {
			return err
		}
		return snap.Close()
	}
	if err := check(s, ev("f")); err != nil {
		t.Errorf("Check: %v", err)
	}
	if err := check(s, ev("nosuch")); err == nil || kindOf(err) != "permanent" {
		t.Errorf("Check of a missing schema: %v", err)
	}
	pg.Exec(t, db.Name, "SET ROLE "+db.User+"; CREATE TABLE acct_f.odd (x interval)")
	s = newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_f\"\ntables = [\"small\", \"odd\"]\n", db.DSN))
	if err := check(s, ev("f")); err == nil || kindOf(err) != "configuration" || !strings.Contains(err.Error(), "table odd column x: type interval") {
		t.Errorf("Check of an unmappable column: %v", err)
	}
}
