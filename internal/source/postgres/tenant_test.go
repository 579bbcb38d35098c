package postgres

import (
	"fmt"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/testsupport"
)

// tenantDB is a database whose owner creates the schemas of the tenant
// tests.
func tenantDB(t *testing.T, sql string) testsupport.Database {
	pg := testsupport.SharedPostgres(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db.Name, "SET ROLE "+db.User+";\n"+sql)
	return db
}

// rowsOf reads every table of a snapshot for e and returns the first
// table's rows, one string per row.
func rowsOf(t *testing.T, s *Source, e event.ModellingCompleted) ([]string, error) {
	t.Helper()
	ctx := testContext(t)
	snap, err := s.Open(ctx, sourceRequest(e))
	if err != nil {
		return nil, err
	}
	defer snap.Close()
	r := &recorder{}
	if err := snap.ReadTable(ctx, snap.Tables()[0].Name, r); err != nil {
		return nil, err
	}
	var out []string
	for _, row := range r.rows {
		out = append(out, strings.Join(row, ","))
	}
	return out, nil
}

// TestLongAccountIDsDoNotShareASchema: PostgreSQL keeps the first 63 bytes
// of a name, so acct_<id> of two 128-character ids that share their first
// 58 characters name one schema. An account whose schema name is longer
// than that fails permanently instead of reading what may be another
// account's schema.
func TestLongAccountIDsDoNotShareASchema(t *testing.T) {
	shared := strings.Repeat("p", 58)
	a, b := shared+strings.Repeat("a", 70), shared+strings.Repeat("b", 70)
	if !event.ValidID(a) || !event.ValidID(b) {
		t.Fatal("the test's ids are not valid ids")
	}
	// Created for account a; PostgreSQL truncates the name (with a notice).
	db := tenantDB(t, fmt.Sprintf(`CREATE SCHEMA "acct_%s"; CREATE TABLE "acct_%s".events AS SELECT 'secret of a' AS v;`, a, a))
	s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_${event.account_id}\"\ntables = [\"events\"]\n", db.DSN))
	for _, account := range []string{b, a} {
		rows, err := rowsOf(t, s, ev(account))
		if err == nil {
			t.Fatalf("account %s…%s read %v from a schema whose name PostgreSQL truncated", account[:4], account[len(account)-4:], rows)
		}
		if !strings.Contains(err.Error(), "more than the 63 bytes of a PostgreSQL name") || kindOf(err) != "permanent" {
			t.Fatalf("error %v (kind %s), want a permanent error about the name's length", err, kindOf(err))
		}
	}
	// A schema name of exactly 63 bytes is fine.
	c := strings.Repeat("c", 58)
	db = tenantDB(t, fmt.Sprintf(`CREATE SCHEMA acct_%s; CREATE TABLE acct_%s.events AS SELECT 'c' AS v;`, c, c))
	s = newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_${event.account_id}\"\ntables = [\"events\"]\n", db.DSN))
	if rows, err := rowsOf(t, s, ev(c)); err != nil || len(rows) != 1 {
		t.Fatalf("a 63-byte schema name: %v, %v", rows, err)
	}
}

// TestSnapshotInSchemaIsUnambiguous: with the schema
// "acct_${event.account_id}_${event.snapshot}", account a with snapshot b_c
// would read account a_b's schema of snapshot c; such a template is
// refused, and one that separates the values with a character no id holds
// keeps every account to its own schema.
func TestSnapshotInSchemaIsUnambiguous(t *testing.T) {
	db := tenantDB(t, `
	  CREATE SCHEMA acct_a_b_c; CREATE TABLE acct_a_b_c.events AS SELECT 'a_b, run c' AS v;
	  CREATE SCHEMA "acct_a_b.c"; CREATE TABLE "acct_a_b.c".events AS SELECT 'a_b, snapshot c' AS v;
	  CREATE SCHEMA "acct_a.b_c"; CREATE TABLE "acct_a.b_c".events AS SELECT 'a, snapshot b_c' AS v;`)
	_, diags := New(parseBody(t, fmt.Sprintf("dsn = %q\nschema = \"acct_${event.account_id}_${event.snapshot}\"\ntables = [\"events\"]\n", db.DSN)), testEnv())
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "Ambiguous schema") {
		t.Fatalf("an ambiguous schema template was accepted: %v", diags)
	}

	s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_${event.account_id}.${event.snapshot}\"\ntables = [\"events\"]\n", db.DSN))
	for _, tc := range []struct{ account, snapshot, want string }{
		{"a", "b_c", `"a, snapshot b_c"`},
		{"a_b", "c", `"a_b, snapshot c"`},
	} {
		e := ev(tc.account)
		e.Snapshot = tc.snapshot
		rows, err := rowsOf(t, s, e)
		if err != nil || len(rows) != 1 || rows[0] != tc.want {
			t.Errorf("account %s, snapshot %s: %v, %v; want %s", tc.account, tc.snapshot, rows, err, tc.want)
		}
	}
	// An event that reached the source some other way than the decoder
	// (a queued re-export, say) is held to the same rules.
	e := ev("a")
	e.Snapshot = "x.y"
	if _, err := rowsOf(t, s, e); err == nil || kindOf(err) != "permanent" {
		t.Errorf("a snapshot with a dot: %v, want a permanent error", err)
	}
}

// TestQuotedEventValuesInQueries: quote_literal and quote_ident put event
// values into a table's query as a value and as a name, exactly; raw
// interpolation, which would let the id "1--" comment out the rest of the
// query, is refused.
func TestQuotedEventValuesInQueries(t *testing.T) {
	db := tenantDB(t, `CREATE SCHEMA acct;
	  CREATE TABLE acct.events (account_no text, visible bool, id int);
	  INSERT INTO acct.events VALUES ('1', true, 1), ('1', false, 2), ('2', true, 3);
	  CREATE TABLE acct."events_Run1" AS SELECT 10 AS id;`)
	raw := fmt.Sprintf(`dsn = %q
schema = "acct"
tables = ["events"]
table "events" { query = "SELECT id FROM events WHERE account_no = ${event.account_id} AND visible" }
`, db.DSN)
	if _, diags := New(parseBody(t, raw), testEnv()); !diags.HasErrors() || !strings.Contains(diags.Error(), "exportd.hcl:4,70-86: Unquoted event value in a query") {
		t.Fatalf("a raw event value in a query was accepted: %v", diags)
	}

	s := newSource(t, fmt.Sprintf(`dsn = %q
schema = "acct"
tables = ["events"]
table "events" { query = "SELECT id FROM events WHERE account_no = ${quote_literal(event.account_id)} AND visible" }
`, db.DSN))
	for account, want := range map[string]string{"1": "1", "1--": "", "2": "3"} {
		rows, err := rowsOf(t, s, ev(account))
		if err != nil || strings.Join(rows, " ") != want {
			t.Errorf("account %s: rows %v, %v; want %q", account, rows, err, want)
		}
	}

	s = newSource(t, fmt.Sprintf(`dsn = %q
schema = "acct"
tables = ["events"]
table "events" { query = "SELECT id FROM ${quote_ident("events_${event.run_id}")}" }
`, db.DSN))
	e := ev("1")
	e.RunID = "Run1"
	if rows, err := rowsOf(t, s, e); err != nil || strings.Join(rows, " ") != "10" {
		t.Errorf("table named by the run: %v, %v", rows, err)
	}
}
