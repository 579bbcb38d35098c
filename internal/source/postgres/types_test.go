package postgres

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/schema"
	"github.com/exportd/exportd/internal/testsupport"
)

// everyTypeDDL creates table every in schema acct_every with one column of
// each mapped type, and rows of edge values: all NULLs, minimums, maximums,
// history and the far future. everyTypeWant is what the export must give.
const everyTypeDDL = `
CREATE SCHEMA acct_every;
SET search_path = acct_every;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE DOMAIN money2 AS numeric(12,2);
CREATE TABLE every (
  id    int4 NOT NULL,
  t     text,
  vc    varchar(10),
  ch    char(3),
  i2    int2,
  i4    int4,
  i8    int8,
  f4    float4,
  f8    float8,
  b     bool,
  n38   numeric(38,0),
  n38s  numeric(38,10),
  n10   numeric(10,2),
  nneg  numeric(5,-2),
  nu    numeric,
  tstz  timestamptz,
  ts    timestamp,
  d     date,
  tm    time,
  u     uuid,
  j     json,
  jb    jsonb,
  ai    int4[],
  at    text[],
  an    numeric(10,2)[],
  am    int4[][],
  tsa   timestamptz[],
  ea    mood[],
  dma   money2[],
  by    bytea,
  e     mood,
  dm    posint,
  dn    money2
);
INSERT INTO every (id) VALUES (1);
INSERT INTO every VALUES (2, '', '', 'a', -32768, -2147483648, -9223372036854775808,
  '-Infinity', -1.7976931348623157e308, false,
  -99999999999999999999999999999999999999, -9999999999999999999999999999.9999999999, -12345678.90, -9999900,
  '-123456789012345678901234567890.123456789012345678901234567890',
  '-infinity', '1900-01-01 00:00:00.000001', '-infinity', '00:00:00',
  '00000000-0000-0000-0000-000000000000', '[]', '{}',
  '{}', '{NULL,""}', '{-1.5,NULL}', '{{1,2},{3,4}}', '{"1969-07-20 20:17:40+00",NULL}', '{ok,happy}', '{0.01}',
  '', 'sad', 1, -0.01);
INSERT INTO every VALUES (3, 'héllo wörld ☃ 日本語 🎉', 'ünïcödé', 'ßüé', 32767, 2147483647, 9223372036854775807,
  'NaN', 'Infinity', true,
  99999999999999999999999999999999999999, 0.0000000001, 99999999.99, 9999900,
  'NaN',
  'infinity', '2150-06-15 12:34:56.789012', 'infinity', '23:59:59.999999',
  'ffffffff-ffff-ffff-ffff-ffffffffffff', '{"a": [1, 2.5, "x"], "b": null}', '{"n": [1, 2], "k": "ü"}',
  '{1,NULL,-3}', '{"a,b","ü"}', '{}', NULL, '{"2262-04-11 23:47:16.854775+00"}', '{}', '{}',
  '\x00ff10', 'happy', 2147483647, 9999999999.99);
INSERT INTO every (id, t, f4, f8, n38s, n10, nneg, nu, tstz, ts, d, tm, am)
  VALUES (4, E'line1\nline2\ttab "quote" \\ backslash', 1.5, '-0', 12345.6789, 0.5, 1200,
  '0.000000000000000000001', '4713-11-24 00:00:00+00 BC', '1969-12-31 23:59:59.999999', '1900-02-28', '12:00:00.5',
  '{{{1}},{{2}}}');
INSERT INTO every (id, n38, n38s, nu, tstz, ts, d, dn, ai)
  VALUES (5, 0, -0.0000000001, '12345678901234567890123456789012345678901234567890',
  '2100-03-01 00:00:00.000001+00', '9999-12-31 23:59:59.999999', '2200-01-01', 0, '[0:1]={7,8}');
`

func micros(year int, month time.Month, day, h, m, s, us int) string {
	return strconv.FormatInt(time.Date(year, month, day, h, m, s, us*1000, time.UTC).UnixMicro(), 10)
}

func days(year int, month time.Month, day int) string {
	return strconv.FormatInt(time.Date(year, month, day, 0, 0, 0, 0, time.UTC).Unix()/86400, 10)
}

const nines38 = "99999999999999999999999999999999999999"

// everyTypeWant is, per column, the canonical value of each row (see
// recorder).
var everyTypeWant = map[string][]string{
	"id":   {"1", "2", "3", "4", "5"},
	"t":    {"NULL", `""`, strconv.Quote("héllo wörld ☃ 日本語 🎉"), strconv.Quote("line1\nline2\ttab \"quote\" \\ backslash"), "NULL"},
	"vc":   {"NULL", `""`, strconv.Quote("ünïcödé"), "NULL", "NULL"},
	"ch":   {"NULL", `"a  "`, strconv.Quote("ßüé"), "NULL", "NULL"},
	"i2":   {"NULL", "-32768", "32767", "NULL", "NULL"},
	"i4":   {"NULL", "-2147483648", "2147483647", "NULL", "NULL"},
	"i8":   {"NULL", "-9223372036854775808", "9223372036854775807", "NULL", "NULL"},
	"f4":   {"NULL", "-Inf", "NaN", "1.5", "NULL"},
	"f8":   {"NULL", "-1.7976931348623157e+308", "+Inf", "-0", "NULL"},
	"b":    {"NULL", "false", "true", "NULL", "NULL"},
	"n38":  {"NULL", "-" + nines38, nines38, "NULL", "0"},
	"n38s": {"NULL", "-" + nines38, "1", "123456789000000", "-1"},
	"n10":  {"NULL", "-1234567890", "9999999999", "50", "NULL"},
	"nneg": {"NULL", "-9999900", "9999900", "1200", "NULL"},
	"nu": {"NULL", `"-123456789012345678901234567890.123456789012345678901234567890"`, `"NaN"`,
		`"0.000000000000000000001"`, `"12345678901234567890123456789012345678901234567890"`},
	"tstz": {"NULL", strconv.FormatInt(math.MinInt64, 10), strconv.FormatInt(math.MaxInt64, 10),
		micros(-4712, 11, 24, 0, 0, 0, 0), micros(2100, 3, 1, 0, 0, 0, 1)},
	"ts": {"NULL", micros(1900, 1, 1, 0, 0, 0, 1), micros(2150, 6, 15, 12, 34, 56, 789012), "-1",
		micros(9999, 12, 31, 23, 59, 59, 999999)},
	"d":   {"NULL", strconv.FormatInt(math.MinInt32, 10), strconv.FormatInt(math.MaxInt32, 10), days(1900, 2, 28), days(2200, 1, 1)},
	"tm":  {"NULL", "0", "86399999999", "43200500000", "NULL"},
	"u":   {"NULL", "00000000000000000000000000000000", "ffffffffffffffffffffffffffffffff", "NULL", "NULL"},
	"j":   {"NULL", `"[]"`, strconv.Quote(`{"a": [1, 2.5, "x"], "b": null}`), "NULL", "NULL"},
	"jb":  {"NULL", `"{}"`, strconv.Quote(`{"k": "ü", "n": [1, 2]}`), "NULL", "NULL"},
	"ai":  {"NULL", "[]", "[1, NULL, -3]", "NULL", "[7, 8]"},
	"at":  {"NULL", `[NULL, ""]`, `["a,b", "ü"]`, "NULL", "NULL"},
	"an":  {"NULL", "[-150, NULL]", "[]", "NULL", "NULL"},
	"am":  {"NULL", `"[[1,2],[3,4]]"`, "NULL", `"[[[1]],[[2]]]"`, "NULL"},
	"tsa": {"NULL", "[" + micros(1969, 7, 20, 20, 17, 40, 0) + ", NULL]", "[" + micros(2262, 4, 11, 23, 47, 16, 854775) + "]", "NULL", "NULL"},
	"ea":  {"NULL", `["ok", "happy"]`, "[]", "NULL", "NULL"},
	"dma": {"NULL", "[1]", "[]", "NULL", "NULL"},
	"by":  {"NULL", `""`, `"\x00\xff\x10"`, "NULL", "NULL"},
	"e":   {"NULL", `"sad"`, `"happy"`, "NULL", "NULL"},
	"dm":  {"NULL", "1", "2147483647", "NULL", "NULL"},
	"dn":  {"NULL", "-1", "999999999999", "NULL", "0"},
}

// everyTypeSchema is the schema the export must describe.
var everyTypeSchema = []schema.Column{
	{Name: "id", Kind: schema.Int32},
	{Name: "t", Kind: schema.String, Nullable: true},
	{Name: "vc", Kind: schema.String, Nullable: true},
	{Name: "ch", Kind: schema.String, Nullable: true},
	{Name: "i2", Kind: schema.Int16, Nullable: true},
	{Name: "i4", Kind: schema.Int32, Nullable: true},
	{Name: "i8", Kind: schema.Int64, Nullable: true},
	{Name: "f4", Kind: schema.Float32, Nullable: true},
	{Name: "f8", Kind: schema.Float64, Nullable: true},
	{Name: "b", Kind: schema.Bool, Nullable: true},
	{Name: "n38", Kind: schema.Decimal, Precision: 38, Scale: 0, Nullable: true},
	{Name: "n38s", Kind: schema.Decimal, Precision: 38, Scale: 10, Nullable: true},
	{Name: "n10", Kind: schema.Decimal, Precision: 10, Scale: 2, Nullable: true},
	{Name: "nneg", Kind: schema.Decimal, Precision: 7, Scale: 0, Nullable: true},
	{Name: "nu", Kind: schema.String, Nullable: true},
	{Name: "tstz", Kind: schema.Timestamp, UTC: true, Nullable: true},
	{Name: "ts", Kind: schema.Timestamp, Nullable: true},
	{Name: "d", Kind: schema.Date, Nullable: true},
	{Name: "tm", Kind: schema.Time, Nullable: true},
	{Name: "u", Kind: schema.UUID, Nullable: true},
	{Name: "j", Kind: schema.JSON, Nullable: true},
	{Name: "jb", Kind: schema.JSON, Nullable: true},
	{Name: "ai", Kind: schema.List, Nullable: true, Elem: &schema.Column{Kind: schema.Int32, Nullable: true}},
	{Name: "at", Kind: schema.List, Nullable: true, Elem: &schema.Column{Kind: schema.String, Nullable: true}},
	{Name: "an", Kind: schema.List, Nullable: true, Elem: &schema.Column{Kind: schema.Decimal, Precision: 10, Scale: 2, Nullable: true}},
	{Name: "am", Kind: schema.JSON, Nullable: true},
	{Name: "tsa", Kind: schema.List, Nullable: true, Elem: &schema.Column{Kind: schema.Timestamp, UTC: true, Nullable: true}},
	{Name: "ea", Kind: schema.List, Nullable: true, Elem: &schema.Column{Kind: schema.String, LowCardinality: true, Nullable: true}},
	{Name: "dma", Kind: schema.List, Nullable: true, Elem: &schema.Column{Kind: schema.Decimal, Precision: 12, Scale: 2, Nullable: true}},
	{Name: "by", Kind: schema.Bytes, Nullable: true},
	{Name: "e", Kind: schema.String, LowCardinality: true, Nullable: true},
	{Name: "dm", Kind: schema.Int32, Nullable: true},
	{Name: "dn", Kind: schema.Decimal, Precision: 12, Scale: 2, Nullable: true},
}

func setupEveryType(t testing.TB) (*testsupport.Postgres, testsupport.Database) {
	pg := testsupport.SharedPostgres(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db.Name, "SET ROLE "+db.User+";"+everyTypeDDL)
	return pg, db
}

// everySource reads table every with its default query, in insertion
// order (a fresh heap table is scanned in that order).
func everySource(t testing.TB, db testsupport.Database) *Source {
	return newSource(t, fmt.Sprintf(`
dsn = %q
schema = "acct_${event.account_id}"
tables = ["every"]
`, db.DSN))
}

// checkEveryType compares rows of canonical values with everyTypeWant.
func checkEveryType(t *testing.T, rows [][]string) {
	t.Helper()
	if len(rows) != 5 {
		t.Fatalf("%d rows, want 5", len(rows))
	}
	for ci, c := range everyTypeSchema {
		for ri, want := range everyTypeWant[c.Name] {
			if got := rows[ri][ci]; got != want {
				t.Errorf("row %d column %s = %s, want %s", ri+1, c.Name, got, want)
			}
		}
	}
}

func TestEveryTypeMapsAndDecodes(t *testing.T) {
	_, db := setupEveryType(t)
	s := everySource(t, db)
	got, _ := readAll(t, s, ev("every"))
	checkEveryType(t, got["every"].rows)
}

func TestEveryTypeSchema(t *testing.T) {
	_, db := setupEveryType(t)
	// The default query (no table block) keeps NOT NULL and maps the
	// two-dimensional column to JSON text.
	s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_every\"\ntables = [\"every\"]\n", db.DSN))
	snap, err := s.Open(testContext(t), sourceRequest(ev("x")))
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	tbl := snap.Tables()[0]
	if len(tbl.Columns) != len(everyTypeSchema) {
		t.Fatalf("%d columns, want %d", len(tbl.Columns), len(everyTypeSchema))
	}
	for i, want := range everyTypeSchema {
		got := tbl.Columns[i]
		if fmt.Sprint(got.Elem) != fmt.Sprint(want.Elem) {
			t.Errorf("column %s: element %+v, want %+v", want.Name, got.Elem, want.Elem)
		}
		got.Elem, want.Elem = nil, nil
		if got != want {
			t.Errorf("column %d: %+v, want %+v", i, got, want)
		}
	}
}

func TestNumericTextMatchesPostgres(t *testing.T) {
	pg := testsupport.SharedPostgres(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db.Name, `SET ROLE `+db.User+`; CREATE SCHEMA acct_n; CREATE TABLE acct_n.nums AS
	  SELECT (v)::numeric AS v FROM (VALUES ('0'), ('-0.0'), ('1'), ('-1'), ('0.1'), ('10000'), ('9999.9999'),
	  ('100000000'), ('0.00001'), ('1e-30'), ('-1.000'), ('123.4500'), ('1e100'), ('12345678.123456789'),
	  ('NaN'), ('Infinity'), ('-Infinity'), ('0.000000000000000000000000000001000')) x(v)
	  UNION ALL SELECT round((random() - 0.5)::numeric * 10::numeric ^ (random() * 40)::int, (random() * 20)::int) FROM generate_series(1, 2000);`)
	s := newSource(t, fmt.Sprintf(`
dsn = %q
schema = "acct_n"
tables = ["nums"]
table "nums" { query = "SELECT v, v::text AS t FROM nums" }
`, db.DSN))
	got, _ := readAll(t, s, ev("n"))
	if len(got["nums"].rows) != 2018 {
		t.Fatalf("%d rows", len(got["nums"].rows))
	}
	for _, r := range got["nums"].rows {
		if r[0] != r[1] {
			t.Errorf("numeric exported as %s, PostgreSQL prints %s", r[0], r[1])
		}
	}
}

func TestValuesThatCannotBeExportedFailTheTable(t *testing.T) {
	pg := testsupport.SharedPostgres(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db.Name, `SET ROLE `+db.User+`; CREATE SCHEMA acct_bad;
	  CREATE TABLE acct_bad.nan (x numeric(10,2)); INSERT INTO acct_bad.nan VALUES (1), ('NaN');
	  CREATE TABLE acct_bad.multi (x int[]); INSERT INTO acct_bad.multi VALUES ('{1}'), ('{{1,2},{3,4}}');
	  CREATE TABLE acct_bad.far (x timestamp); INSERT INTO acct_bad.far VALUES ('294276-12-31 23:59:59');
	  CREATE TABLE acct_bad.wide (x numeric); INSERT INTO acct_bad.wide VALUES (1.5), (0.0000000001);
	  CREATE TABLE acct_bad.big (x numeric); INSERT INTO acct_bad.big VALUES (1), (1e30);`)
	for _, tc := range []struct {
		name, table, numeric, want string
	}{
		{name: "NaN in DECIMAL", table: "nan", want: "column x is NaN"},
		{name: "2-D value in LIST", table: "multi", want: "column x is a multi-dimensional array"},
		{name: "timestamp past int64 micros", table: "far", want: "column x is after 294247-01-10"},
		{name: "too many fractional digits", table: "wide", numeric: "decimal(38,9)", want: "0.0000000001 is not a DECIMAL(38,9)"},
		{name: "too many integer digits", table: "big", numeric: "decimal(20,2)", want: "1000000000000000000000000000000 is not a DECIMAL(20,2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fmt.Sprintf("dsn = %q\nschema = \"acct_bad\"\ntables = [%q]\n", db.DSN, tc.table)
			if tc.numeric != "" {
				cfg += fmt.Sprintf("unconstrained_numeric = %q\n", tc.numeric)
			}
			s := newSource(t, cfg)
			ctx := testContext(t)
			snap, err := s.Open(ctx, sourceRequest(ev("bad")))
			if err != nil {
				t.Fatal(err)
			}
			defer snap.Close()
			err = snap.ReadTable(ctx, tc.table, &recorder{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "acct_bad."+tc.table) {
				t.Fatalf("ReadTable: %v, want an error naming the table and saying %q", err, tc.want)
			}
			if k := kindOf(err); k != "permanent" {
				t.Errorf("kind %s, want permanent", k)
			}
		})
	}
}

func TestUnmappableColumnIsAConfigurationError(t *testing.T) {
	pg := testsupport.SharedPostgres(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db.Name, `SET ROLE `+db.User+`; CREATE SCHEMA acct_u;
	  CREATE TABLE acct_u.ok (x int);
	  CREATE TABLE acct_u.spans (id int, d interval);
	  CREATE TABLE acct_u.zoned (id int, t timetz);
	  CREATE TABLE acct_u.ranges (id int, r int4range);`)
	for _, table := range []string{"spans", "zoned", "ranges"} {
		t.Run(table, func(t *testing.T) {
			s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_u\"\ntables = [\"ok\", %q]\n", db.DSN, table))
			_, err := s.Open(testContext(t), sourceRequest(ev("u")))
			if err == nil || !strings.Contains(err.Error(), "table "+table+" column ") {
				t.Fatalf("Open: %v, want an error naming table %s and its column", err, table)
			}
			if k := kindOf(err); k != "configuration" {
				t.Errorf("kind %s, want configuration", k)
			}
		})
	}
	// Cast in a table query, the same column exports.
	s := newSource(t, fmt.Sprintf(`
dsn = %q
schema = "acct_u"
tables = ["spans"]
table "spans" { query = "SELECT id, d::text AS d FROM spans" }
`, db.DSN))
	readAll(t, s, ev("u"))
}

func TestTextFormatStringTypes(t *testing.T) {
	if _, err := os.Stat("/usr/share/postgresql/15/extension/citext.control"); err != nil {
		t.Skip("the citext extension (postgresql-contrib) is not installed")
	}
	pg := testsupport.SharedPostgres(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db.Name, `CREATE EXTENSION citext; SET ROLE `+db.User+`; CREATE SCHEMA acct_c;
	  CREATE TABLE acct_c.c (id int, name citext); INSERT INTO acct_c.c VALUES (1, 'MiXeD ü'), (2, NULL);`)
	s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_c\"\ntables = [\"c\"]\n", db.DSN))
	got, _ := readAll(t, s, ev("c"))
	want := [][]string{{"1", `"MiXeD ü"`}, {"2", "NULL"}}
	if fmt.Sprint(got["c"].rows) != fmt.Sprint(want) {
		t.Errorf("rows %v, want %v", got["c"].rows, want)
	}
}

func TestStatisticsMarkLowCardinality(t *testing.T) {
	pg := testsupport.SharedPostgres(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db.Name, `SET ROLE `+db.User+`; CREATE SCHEMA acct_lc;
	  CREATE TABLE acct_lc.t AS SELECT md5(g::text) AS id, (ARRAY['a','b','c'])[1 + g % 3] AS kind, g AS n
	  FROM generate_series(1, 5000) g;
	  ANALYZE acct_lc.t;`)
	s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_lc\"\ntables = [\"t\"]\n", db.DSN))
	snap, err := s.Open(testContext(t), sourceRequest(ev("lc")))
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	var got []bool
	for _, c := range snap.Tables()[0].Columns {
		got = append(got, c.LowCardinality)
	}
	if fmt.Sprint(got) != "[false true false]" {
		t.Errorf("low cardinality of id, kind, n: %v, want [false true false]", got)
	}
}
