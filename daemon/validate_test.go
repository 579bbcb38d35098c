package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/testsupport"
)

// TestValidateCheck: `exportd validate -check` opens a source snapshot for
// each account and checks each destination. A column type the PostgreSQL
// source cannot map fails it, naming the table and the column.
func TestValidateCheck(t *testing.T) {
	pg := testsupport.StartPostgres(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db.Name, "SET ROLE "+db.User+`;
		CREATE SCHEMA acct_good; CREATE TABLE acct_good.events (event_id text, at timestamptz);
		CREATE SCHEMA acct_bad;  CREATE TABLE acct_bad.events (event_id text, session_length interval);`)
	pluginDir := testsupport.PluginDir(t, "localfs")
	config := func(account string) string {
		return writeConfig(t, fmt.Sprintf(`
data_dir   = %q
plugin_dir = %q
source "postgres" {
  dsn    = %q
  schema = "acct_${event.account_id}"
  tables = ["events"]
}
destination "localfs" "d" {
  account = %q
  path    = %q
}
`, t.TempDir(), pluginDir, db.DSN, account, t.TempDir()))
	}

	out, code := runExportd(t, "validate", "-config", config("good"), "-check")
	if code != 0 || !strings.Contains(out, "source for good") || !strings.Contains(out, "is writable") {
		t.Fatalf("validate -check of a good setup exited %d:\n%s", code, out)
	}
	out, code = runExportd(t, "validate", "-config", config("bad"), "-check")
	if code != 1 || !strings.Contains(out, "FAIL") || !strings.Contains(out, "events") ||
		!strings.Contains(out, "session_length") || !strings.Contains(out, "interval") {
		t.Fatalf("validate -check of an unmappable column exited %d:\n%s", code, out)
	}
	if strings.Contains(out, db.Password) {
		t.Fatalf("the password leaked:\n%s", out)
	}
}

// TestValidateEventValuesInSQL: `exportd validate` refuses a table query
// that interpolates an event value raw, and a schema that two accounts
// could share, pointing at each; no database is needed to tell.
func TestValidateEventValuesInSQL(t *testing.T) {
	cfg := writeConfig(t, fmt.Sprintf(`data_dir = %q
source "postgres" {
  dsn    = "postgres://exportd:not-the-password@127.0.0.1:1/db"
  schema = "acct_${event.account_id}_${event.snapshot}"
  tables = ["events"]
  table "events" {
    query = "SELECT * FROM events WHERE account = '${event.account_id}'"
  }
}
`, t.TempDir()))
	out, code := runExportd(t, "validate", "-config", cfg)
	for _, want := range []string{
		"exportd.hcl:4:40: error: Ambiguous schema",
		"exportd.hcl:7:54: error: Unquoted event value in a query",
		"${quote_literal(event.account_id)}",
	} {
		if code != 1 || !strings.Contains(out, want) {
			t.Fatalf("validate exited %d, want 1 with %q:\n%s", code, want, out)
		}
	}
	if strings.Contains(out, "not-the-password") {
		t.Fatalf("the password leaked:\n%s", out)
	}
}

// TestValidateShowsDefaults: `exportd validate` shows each destination's
// configuration with the defaults its plugin declares, marked, and never
// a sensitive value.
func TestValidateShowsDefaults(t *testing.T) {
	cfg := writeConfig(t, fmt.Sprintf(`data_dir   = %q
plugin_dir = %q
source "sample" {}
destination "localfs" "d" {
  account = "acme"
  path    = %q
  fsync   = false
}
`, t.TempDir(), testsupport.PluginDir(t, "localfs"), t.TempDir()))
	out, code := runExportd(t, "validate", "-config", cfg)
	for _, want := range []string{"destination d (localfs, account acme):", "fsync=false", `mode="0640" (default)`} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("validate exited %d, want 0 with %q:\n%s", code, want, out)
		}
	}
	if strings.Contains(out, "fsync=false (default)") {
		t.Fatalf("a value the configuration sets is marked as a default:\n%s", out)
	}
}
