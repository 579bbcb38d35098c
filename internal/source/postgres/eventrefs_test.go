package postgres

import (
	"strings"
	"testing"
)

// TestEventValuesInSQL: event values reach the schema only verbatim and
// unambiguously, and a table's query only through quote_literal() or
// quote_ident() applied last; everything else is refused at startup with
// file:line:col.
func TestEventValuesInSQL(t *testing.T) {
	const head = "dsn = \"" + goodDSN + "\"\n"
	for _, tc := range []struct {
		name string
		body string
		want string // substring of the diagnostics; "" for none
	}{
		{name: "schema of one event value", body: `schema = "acct_${event.account_id}"`},
		{name: "schema of two separated values", body: `schema = "acct_${event.account_id}.${event.snapshot}"`},
		{name: "schema of a run", body: `schema = "run/${event.run_id}/${event.account_id}"`},
		{name: "schema without the event", body: `schema = "public"`},
		{name: "schema of an event value alone", body: `schema = event.account_id`},
		{name: "schema with a static function", body: `schema = "${lower("ACCT")}_${event.account_id}"`},
		{name: "ambiguous schema", body: `schema = "acct_${event.account_id}_${event.snapshot}"`,
			want: `exportd.hcl:2,38-52: Ambiguous schema; event.snapshot follows event.account_id`},
		{name: "adjacent values", body: `schema = "${event.account_id}${event.run_id}"`, want: "Ambiguous schema"},
		{name: "a static function between values", body: `schema = "${event.account_id}${lower(".")}${event.run_id}"`, want: "Ambiguous schema"},
		{name: "function of an event value in schema", body: `schema = "acct_${lower(event.account_id)}"`,
			want: "exportd.hcl:2,24-40: Event value in schema through an expression"},
		{name: "quote_ident in schema", body: `schema = quote_ident(event.account_id)`, want: "The schema is quoted as a name already"},
		{name: "schema too long", body: `schema = "` + strings.Repeat("s", 64) + `"`, want: "exportd.hcl:2,1-76: Schema name too long"},
		{name: "schema of 63 bytes", body: `schema = "` + strings.Repeat("s", 63) + `"`},

		{name: "quoted literal", body: "schema = \"s\"\ntable \"events\" { query = \"SELECT * FROM events WHERE account = ${quote_literal(event.account_id)}\" }"},
		{name: "quoted name", body: "schema = \"s\"\ntable \"events\" { query = \"SELECT * FROM ${quote_ident(\"events_${event.run_id}\")}\" }"},
		{name: "function inside the quoting", body: "schema = \"s\"\ntable \"events\" { query = \"SELECT * FROM events WHERE account = ${quote_literal(lower(event.account_id))}\" }"},
		{name: "event value choosing a branch", body: "schema = \"s\"\ntable \"events\" { query = event.snapshot == \"\" ? \"SELECT * FROM events\" : \"SELECT * FROM events WHERE snapshot = ${quote_literal(event.snapshot)}\" }"},
		{name: "template if", body: "schema = \"s\"\ntable \"events\" { query = \"SELECT * FROM events%{ if event.snapshot != \"\" } WHERE snapshot = ${quote_literal(event.snapshot)}%{ endif }\" }"},
		{name: "static query", body: "schema = \"s\"\ntable \"events\" { query = \"SELECT * FROM events\" }"},
		{name: "raw value", body: "schema = \"s\"\ntable \"events\" {\n  query = \"SELECT * FROM events WHERE account = '${event.account_id}'\"\n}",
			want: `exportd.hcl:4,52-68: Unquoted event value in a query; event.account_id reaches the query of table "events" as raw SQL`},
		{name: "raw value as a number", body: "schema = \"s\"\ntable \"events\" { query = \"SELECT * FROM events WHERE account_no = ${event.account_id} AND visible\" }",
			want: "Unquoted event value in a query"},
		{name: "raw name", body: "schema = \"s\"\ntable \"events\" { query = \"SELECT * FROM events_${event.run_id}\" }", want: "event.run_id reaches the query"},
		{name: "quoting undone", body: "schema = \"s\"\ntable \"events\" { query = \"SELECT * FROM events WHERE a = ${replace(quote_literal(event.account_id), \"'\", \"\")}\" }",
			want: "Unquoted event value in a query"},
		{name: "raw value in a branch", body: "schema = \"s\"\ntable \"events\" { query = event.snapshot == \"\" ? \"SELECT 1\" : \"SELECT ${event.snapshot}\" }", want: "event.snapshot reaches the query"},
		{name: "raw value in a template if", body: "schema = \"s\"\ntable \"events\" { query = \"SELECT 1%{ if event.snapshot != \"\" }, ${event.snapshot}%{ endif }\" }", want: "event.snapshot reaches the query"},
		{name: "format of an event value", body: "schema = \"s\"\ntable \"events\" { query = format(\"SELECT %s\", event.run_id) }", want: "event.run_id reaches the query"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, diags := New(parseBody(t, head+tc.body+"\n"), testEnv())
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

// TestTableNamesAndMaxValueSize: table names follow the rules of ids
// within PostgreSQL's 63 bytes (they become folder and file names);
// max_value_size is a size within 1 MiB and 1 GiB.
func TestTableNamesAndMaxValueSize(t *testing.T) {
	const head = "dsn = \"" + goodDSN + "\"\nschema = \"s\"\n"
	for _, tc := range []struct {
		name, body, want string
		size             int64
	}{
		{name: "default size", body: "", size: DefaultMaxValueSize},
		{name: "size in MiB", body: `max_value_size = "200MiB"`, size: 200 << 20},
		{name: "size in bytes", body: `max_value_size = 2097152`, size: 2 << 20},
		{name: "size too small", body: `max_value_size = "4KiB"`, want: "exportd.hcl:3,1-24: Invalid max_value_size; max_value_size must be between 1MiB and 1GiB"},
		{name: "size too large", body: `max_value_size = "2GiB"`, want: "Invalid max_value_size"},
		{name: "not a size", body: `max_value_size = "big"`, want: "Invalid max_value_size"},
		{name: "size from the event", body: `max_value_size = event.snapshot`, want: "Invalid max_value_size"},
		{name: "good table names", body: `tables = ["events", "Paid-Ads", "t_2"]`, size: DefaultMaxValueSize},
		{name: "table name with a slash", body: `tables = ["events", "a/b"]`, want: `exportd.hcl:3,1-27: Invalid table name; "a/b"`},
		{name: "table name with dots", body: `tables = [".."]`, want: "Invalid table name"},
		{name: "table name with a space", body: `tables = ["paid ads"]`, want: "Invalid table name"},
		{name: "table name too long", body: `tables = ["` + strings.Repeat("t", 64) + `"]`, want: "at most 63 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, diags := New(parseBody(t, head+tc.body+"\n"), testEnv())
			if tc.want == "" {
				if diags.HasErrors() {
					t.Fatalf("diagnostics: %v", diags)
				}
				defer s.Close()
				if got := s.(*Source).st.maxValueSize; got != tc.size {
					t.Errorf("max value size %d, want %d", got, tc.size)
				}
				return
			}
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
				t.Fatalf("diagnostics %q, want %q", diags.Error(), tc.want)
			}
		})
	}
}
