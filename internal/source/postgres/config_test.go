package postgres

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/source"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

const goodDSN = "postgres://u:pw@127.0.0.1:5432/db?sslmode=disable"

func TestConfigDiagnostics(t *testing.T) {
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(dsnFile, []byte(goodDSN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(emptyFile, nil, 0o600)
	t.Setenv("EXPORTD_TEST_PG_DSN", goodDSN)
	for _, tc := range []struct {
		name string
		body string
		want string // substring of the diagnostics; "" for none
	}{
		{name: "minimal", body: `dsn = "` + goodDSN + `"` + "\nschema = \"acct_${event.account_id}\"\n"},
		{name: "dsn from env", body: "dsn = env(\"EXPORTD_TEST_PG_DSN\")\nschema = \"public\"\n"},
		{name: "dsn file", body: "dsn_file = \"" + dsnFile + "\"\nschema = \"public\"\n"},
		{name: "everything", body: `dsn = "` + goodDSN + `"
schema = "acct_${event.account_id}"
parallelism = 2
statement_timeout = "30m"
lock_timeout = "10s"
unconstrained_numeric = "decimal(38, 9)"
tables = ["events", "companies"]
max_value_size = "16MiB"
table "events" { query = "SELECT * FROM events WHERE account = ${quote_literal(event.account_id)}" }
`},
		{name: "unknown attribute", body: "dsn = \"" + goodDSN + "\"\nschema = \"s\"\nschemas = \"x\"\n", want: `exportd.hcl:3,1-8: Unsupported argument; An argument named "schemas" is not expected here`},
		{name: "no schema", body: "dsn = \"" + goodDSN + "\"\n", want: `The argument "schema" is required`},
		{name: "no dsn", body: "schema = \"s\"\n", want: "Missing DSN"},
		{name: "both dsn", body: "dsn = \"" + goodDSN + "\"\ndsn_file = \"" + dsnFile + "\"\nschema = \"s\"\n", want: "exportd.hcl:2,1-"},
		{name: "dsn unset env", body: "dsn = env(\"EXPORTD_TEST_PG_NOPE\")\nschema = \"s\"\n", want: "EXPORTD_TEST_PG_NOPE is not set"},
		{name: "dsn from event", body: "dsn = \"host=${event.account_id}\"\nschema = \"s\"\n", want: "dsn is read once at startup"},
		{name: "dsn file missing", body: "dsn_file = \"/nonexistent/dsn\"\nschema = \"s\"\n", want: "Unreadable DSN file"},
		{name: "dsn file empty", body: "dsn_file = \"" + emptyFile + "\"\nschema = \"s\"\n", want: "holds no DSN"},
		{name: "empty schema", body: "dsn = \"" + goodDSN + "\"\nschema = \"\"\n", want: "Empty schema"},
		{name: "schema not a string", body: "dsn = \"" + goodDSN + "\"\nschema = [\"a\"]\n", want: "A string is required"},
		{name: "parallelism zero", body: "dsn = \"" + goodDSN + "\"\nschema = \"s\"\nparallelism = 0\n", want: "exportd.hcl:3,1-16: Invalid parallelism"},
		{name: "parallelism fraction", body: "dsn = \"" + goodDSN + "\"\nschema = \"s\"\nparallelism = 1.5\n", want: "Invalid parallelism"},
		{name: "bad timeout", body: "dsn = \"" + goodDSN + "\"\nschema = \"s\"\nstatement_timeout = \"soon\"\n", want: "Invalid statement_timeout"},
		{name: "bad numeric", body: "dsn = \"" + goodDSN + "\"\nschema = \"s\"\nunconstrained_numeric = \"decimal(40,2)\"\n", want: "Invalid unconstrained_numeric"},
		{name: "empty tables", body: "dsn = \"" + goodDSN + "\"\nschema = \"s\"\ntables = []\n", want: "No tables"},
		{name: "duplicate table", body: "dsn = \"" + goodDSN + "\"\nschema = \"s\"\ntables = [\"a\", \"a\"]\n", want: "Duplicate table"},
		{name: "block for unlisted table", body: "dsn = \"" + goodDSN + "\"\nschema = \"s\"\ntables = [\"a\"]\ntable \"b\" { query = \"SELECT 1\" }\n", want: "exportd.hcl:4,1-10: Table not exported"},
		{name: "block without query", body: "dsn = \"" + goodDSN + "\"\nschema = \"s\"\ntable \"events\" {}\n", want: `The argument "query" is required`},
		{name: "block with unknown attribute", body: "dsn = \"" + goodDSN + "\"\nschema = \"s\"\ntable \"events\" {\n query = \"SELECT 1\"\n sql = \"x\"\n}\n", want: "exportd.hcl:5,2-5: Unsupported argument"},
		{name: "bad dsn", body: "dsn = \"postgres://u:pw@h:port/db\"\nschema = \"s\"\n", want: "Invalid DSN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, diags := New(parseBody(t, tc.body), testEnv())
			if tc.want == "" {
				if diags.HasErrors() {
					t.Fatalf("diagnostics: %v", diags)
				}
				s.Close()
				return
			}
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
				t.Fatalf("diagnostics %q, want %q", diags.Error(), tc.want)
			}
		})
	}
}

func TestConfigValues(t *testing.T) {
	s2 := newSource(t, "dsn = \""+goodDSN+"\"\nschema = \"acct_${event.account_id}\"\nparallelism = 3\nstatement_timeout = \"1m30s\"\nlock_timeout = \"250ms\"\ntables = [\"events\", \"companies\"]\ntable \"events\" { query = \"SELECT * FROM ${quote_ident(\"events_${event.run_id}\")}\" }\n")
	if s2.Parallelism() != 3 {
		t.Errorf("parallelism %d", s2.Parallelism())
	}
	if s2.pool.MaxConns != 3 {
		t.Errorf("pool size %d, want the parallelism", s2.pool.MaxConns)
	}
	rp := s2.pool.ConnConfig.RuntimeParams
	if rp["statement_timeout"] != "90000" || rp["lock_timeout"] != "250" || rp["application_name"] != "exportd" {
		t.Errorf("runtime params %v", rp)
	}
	if s2.coord.RuntimeParams["idle_in_transaction_session_timeout"] != "0" {
		t.Errorf("coordinator params %v", s2.coord.RuntimeParams)
	}
	if !reflect.DeepEqual(s2.st.tables, []string{"events", "companies"}) {
		t.Errorf("tables %v", s2.st.tables)
	}
	e := ev("acme")
	pe, err := s2.st.forEvent(&e)
	if err != nil {
		t.Fatal(err)
	}
	if pe.schema != "acct_acme" || pe.queries["events"] != "SELECT * FROM events_run1" {
		t.Errorf("per event: %+v", pe)
	}
	d := newSource(t, "dsn = \""+goodDSN+"\"\nschema = \"s\"\n")
	if d.Parallelism() != DefaultParallelism || !reflect.DeepEqual(d.st.tables, DefaultTables) || d.st.numeric.asDecimal {
		t.Errorf("defaults: %d %v %v", d.Parallelism(), d.st.tables, d.st.numeric)
	}
	if d.st.statementTimeout != 0 || d.st.lockTimeout != time.Duration(0) {
		t.Errorf("timeouts set by default")
	}
	if _, ok := source.Lookup("postgres"); !ok {
		t.Error(`source "postgres" is not registered`)
	}
}

// TestDSNDiagnosticsHideThePassword: a diagnostic about a DSN written into
// the file says where it is, without printing the line that holds the
// password.
func TestDSNDiagnosticsHideThePassword(t *testing.T) {
	const password = "hunter2-very-secret"
	src := "schema = \"s\"\ndsn = \"postgres://u:" + password + "@h:port/db\"\n"
	f, diags := hclsyntax.ParseConfig([]byte(src), "exportd.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	_, diags = New(f.Body, testEnv())
	var out strings.Builder
	config.WriteDiagnostics(&out, map[string]*hcl.File{"exportd.hcl": f}, diags)
	if !strings.Contains(out.String(), "exportd.hcl:2:1: error: Invalid DSN") || strings.Contains(out.String(), password) {
		t.Fatalf("diagnostics:\n%s", out.String())
	}
}
