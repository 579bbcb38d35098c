package postgres

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/source"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// DefaultTables are the platform's six tables, exported when the block
// names none.
var DefaultTables = []string{"companies", "contacts", "events", "revenue", "revenue_attribution", "paid_ads"}

// DefaultParallelism is how many tables are read at once unless the block
// says otherwise.
const DefaultParallelism = 4

const maxParallelism = 64

// DefaultMaxValueSize bounds one value (a bytea, a text, a whole array)
// unless the block says otherwise.
const DefaultMaxValueSize = 64 << 20

const (
	minMaxValueSize = 1 << 20
	// maxMaxValueSize is PostgreSQL's own limit on a value.
	maxMaxValueSize = 1 << 30
)

var blockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "dsn"},
		{Name: "dsn_file"},
		{Name: "schema", Required: true},
		{Name: "parallelism"},
		{Name: "statement_timeout"},
		{Name: "lock_timeout"},
		{Name: "tables"},
		{Name: "unconstrained_numeric"},
		{Name: "max_value_size"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "table", LabelNames: []string{"name"}}},
}

var tableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "query", Required: true}},
}

// settings is a decoded, checked source block. Expressions that may refer
// to the event are kept for Open.
type settings struct {
	dsn      string // never printed
	schema   hcl.Expression
	queries  map[string]hcl.Expression
	tables   []string
	parallel int

	statementTimeout time.Duration // 0: the server's setting
	lockTimeout      time.Duration // 0: the server's setting

	numeric numericChoice

	// maxValueSize bounds one value as the server sends it; a larger one
	// fails the export before it is read into memory.
	maxValueSize int64

	// evalContext gives the daemon's evaluation context for an event (nil:
	// the startup check), with the quoting functions added.
	evalContext func(ev *event.ModellingCompleted) *hcl.EvalContext
}

// numericChoice is how numeric columns without a precision that fits
// DECIMAL are exported: as their exact text (the default), or as
// DECIMAL(precision, scale), failing the export on a value that does not
// fit.
type numericChoice struct {
	asDecimal        bool
	precision, scale int
}

func (n numericChoice) String() string {
	if !n.asDecimal {
		return "string"
	}
	return fmt.Sprintf("decimal(%d,%d)", n.precision, n.scale)
}

var decimalChoice = regexp.MustCompile(`^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$`)

func parseNumericChoice(s string) (numericChoice, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "string" {
		return numericChoice{}, nil
	}
	m := decimalChoice.FindStringSubmatch(s)
	if m == nil {
		return numericChoice{}, fmt.Errorf(`%q is neither "string" nor "decimal(P,S)"`, s)
	}
	p, _ := strconv.Atoi(m[1])
	sc, _ := strconv.Atoi(m[2])
	if p < 1 || p > 38 || sc > p {
		return numericChoice{}, fmt.Errorf("decimal(%d,%d) needs 1 ≤ P ≤ 38 and S ≤ P", p, sc)
	}
	return numericChoice{asDecimal: true, precision: p, scale: sc}, nil
}

// decode checks a source "postgres" block. Expressions are evaluated with
// the startup context, in which the event's fields are unknown: what does
// not depend on the event must be right now, the rest must at least have
// the right type, and may use the event only in the ways eventrefs.go
// allows.
func decode(body hcl.Body, env source.Env) (*settings, hcl.Diagnostics) {
	content, diags := body.Content(blockSchema)
	if diags.HasErrors() {
		return nil, diags
	}
	st := &settings{
		parallel:     DefaultParallelism,
		tables:       DefaultTables,
		queries:      map[string]hcl.Expression{},
		maxValueSize: DefaultMaxValueSize,
		evalContext:  withQuoting(env.EvalContext),
	}
	d := &blockDecoder{st: st, attrs: content.Attributes, startup: st.evalContext(nil), diags: diags}
	d.dsn(content.MissingItemRange)
	d.schema()
	d.parallelism()
	d.timeouts()
	d.numeric()
	d.maxValueSize()
	d.tables()
	d.tableBlocks(content.Blocks)
	return st, d.diags
}

// blockDecoder decodes one block's attributes into st, one step per
// concern, gathering diagnostics.
type blockDecoder struct {
	st      *settings
	attrs   hcl.Attributes
	startup *hcl.EvalContext
	diags   hcl.Diagnostics
}

func (d *blockDecoder) errorAt(r hcl.Range, summary, detail string) {
	d.diags = append(d.diags, errorAt(r, summary, detail))
}

// dsn reads dsn or dsn_file, exactly one, known at startup. The value is a
// secret: diagnostics name the attribute only.
func (d *blockDecoder) dsn(missing hcl.Range) {
	// The DSN's line may hold a password: diagnostics show where, not it.
	start := len(d.diags)
	defer func() { config.MarkSensitive(d.diags[start:]) }()
	dsnAttr, fileAttr := d.attrs["dsn"], d.attrs["dsn_file"]
	switch {
	case dsnAttr != nil && fileAttr != nil:
		d.errorAt(fileAttr.Range, "Conflicting DSN attributes", "Give either dsn or dsn_file, not both.")
		return
	case dsnAttr == nil && fileAttr == nil:
		d.errorAt(missing, "Missing DSN",
			`Give dsn (e.g. dsn = env("EXPORTD_PG_DSN")) or dsn_file (the path of a file holding the DSN).`)
		return
	case dsnAttr != nil:
		v, ok := staticString(dsnAttr, d.startup, &d.diags)
		if !ok {
			return
		}
		if strings.TrimSpace(v) == "" {
			d.errorAt(dsnAttr.Range, "Empty DSN", "dsn is empty.")
		}
		d.st.dsn = strings.TrimSpace(v)
	default:
		p, ok := staticString(fileAttr, d.startup, &d.diags)
		if !ok {
			return
		}
		b, err := os.ReadFile(p)
		switch {
		case err != nil:
			d.errorAt(fileAttr.Range, "Unreadable DSN file", err.Error())
		case strings.TrimSpace(string(b)) == "":
			d.errorAt(fileAttr.Range, "Empty DSN file", p+" holds no DSN.")
		default:
			d.st.dsn = strings.TrimSpace(string(b))
		}
	}
	if d.st.dsn == "" {
		return
	}
	if _, err := parseDSN(d.st.dsn, d.st); err != nil {
		r := missing
		if dsnAttr != nil {
			r = dsnAttr.Range
		} else if fileAttr != nil {
			r = fileAttr.Range
		}
		d.errorAt(r, "Invalid DSN", err.Error())
	}
}

// schema keeps the per-event schema expression; at startup it must be a
// string, known or not, that uses the event only as checkSchema allows.
func (d *blockDecoder) schema() {
	a := d.attrs["schema"]
	d.st.schema = a.Expr
	if ds := checkSchema(a.Expr); ds.HasErrors() {
		d.diags = append(d.diags, ds...)
		return
	}
	v, ds := evalString(a.Expr, d.startup)
	switch {
	case ds.HasErrors():
		d.diags = append(d.diags, ds...)
	case !v.IsKnown():
	case strings.TrimSpace(v.AsString()) == "":
		d.errorAt(a.Range, "Empty schema", "schema evaluates to an empty string.")
	case len(v.AsString()) > maxIdentifierBytes:
		d.errorAt(a.Range, "Schema name too long", fmt.Sprintf(
			"schema %q is %d bytes; PostgreSQL keeps only the first %d bytes of a name.", v.AsString(), len(v.AsString()), maxIdentifierBytes))
	}
}

func (d *blockDecoder) parallelism() {
	a := d.attrs["parallelism"]
	if a == nil {
		return
	}
	v, ds := a.Expr.Value(d.startup)
	d.diags = append(d.diags, ds...)
	if ds.HasErrors() {
		return
	}
	n, err := wholeNumber(v)
	if err != nil || n < 1 || n > maxParallelism {
		d.errorAt(a.Range, "Invalid parallelism", fmt.Sprintf("parallelism must be a whole number from 1 to %d.", maxParallelism))
		return
	}
	d.st.parallel = n
}

func (d *blockDecoder) timeouts() {
	for _, t := range []struct {
		name string
		dst  *time.Duration
	}{{"statement_timeout", &d.st.statementTimeout}, {"lock_timeout", &d.st.lockTimeout}} {
		a := d.attrs[t.name]
		if a == nil {
			continue
		}
		s, ok := staticString(a, d.startup, &d.diags)
		if !ok {
			continue
		}
		v, err := time.ParseDuration(s)
		if err != nil || v < 0 || (v > 0 && v < time.Millisecond) {
			d.errorAt(a.Range, "Invalid "+t.name, t.name+` is a duration such as "30m" or "1h30m" ("0" for none), at least 1ms.`)
			continue
		}
		*t.dst = v
	}
}

func (d *blockDecoder) numeric() {
	a := d.attrs["unconstrained_numeric"]
	if a == nil {
		return
	}
	if s, ok := staticString(a, d.startup, &d.diags); ok {
		c, err := parseNumericChoice(s)
		if err != nil {
			d.errorAt(a.Range, "Invalid unconstrained_numeric", err.Error()+".")
		}
		d.st.numeric = c
	}
}

// maxValueSize reads max_value_size: a size ("64MiB") or a number of
// bytes, from 1 MiB to PostgreSQL's own limit of 1 GiB for one value.
func (d *blockDecoder) maxValueSize() {
	a := d.attrs["max_value_size"]
	if a == nil {
		return
	}
	v, ds := a.Expr.Value(d.startup)
	d.diags = append(d.diags, ds...)
	if ds.HasErrors() {
		return
	}
	n, err := sizeValue(v)
	if err == nil && (n < minMaxValueSize || n > maxMaxValueSize) {
		err = fmt.Errorf("max_value_size must be between %s and %s", config.FormatSize(minMaxValueSize), config.FormatSize(maxMaxValueSize))
	}
	if err != nil {
		d.errorAt(a.Range, "Invalid max_value_size", err.Error()+".")
		return
	}
	d.st.maxValueSize = n
}

// tables reads the list of tables. Their names become folder and file
// names of every dump and PostgreSQL names: they follow the rules of ids,
// within PostgreSQL's 63 bytes.
func (d *blockDecoder) tables() {
	a := d.attrs["tables"]
	if a == nil {
		return
	}
	d.st.tables = nil
	v, ds := a.Expr.Value(d.startup)
	d.diags = append(d.diags, ds...)
	if ds.HasErrors() {
		return
	}
	lv, err := convert.Convert(v, cty.List(cty.String))
	if err != nil || !lv.IsWhollyKnown() || lv.IsNull() {
		d.errorAt(a.Range, "Invalid tables", "tables is a list of table names known at startup.")
		return
	}
	seen := map[string]bool{}
	for _, e := range lv.AsValueSlice() {
		if e.IsNull() || e.AsString() == "" {
			d.errorAt(a.Range, "Invalid tables", "A table name is empty.")
			continue
		}
		n := e.AsString()
		switch {
		case !event.ValidID(n) || len(n) > maxIdentifierBytes:
			d.errorAt(a.Range, "Invalid table name", fmt.Sprintf(
				"%q: a table name becomes a folder and file name of every dump, so it uses letters, digits, _ and -, starts with a letter or digit, "+
					"and has at most %d bytes (select from another name in a table block).", n, maxIdentifierBytes))
		case seen[n]:
			d.errorAt(a.Range, "Duplicate table", fmt.Sprintf("Table %q is listed twice.", n))
		}
		seen[n] = true
		d.st.tables = append(d.st.tables, n)
	}
	if len(lv.AsValueSlice()) == 0 {
		d.errorAt(a.Range, "No tables", "tables is empty: there would be nothing to export.")
	}
}

// tableBlocks reads each table's query: evaluated per event, a string at
// startup, using the event only through the quoting functions.
func (d *blockDecoder) tableBlocks(blocks hcl.Blocks) {
	for _, b := range blocks {
		name := b.Labels[0]
		tc, ds := b.Body.Content(tableSchema)
		d.diags = append(d.diags, ds...)
		if ds.HasErrors() {
			continue
		}
		if _, dup := d.st.queries[name]; dup {
			d.errorAt(b.DefRange, "Duplicate table block", fmt.Sprintf("Table %q has two table blocks.", name))
			continue
		}
		if !contains(d.st.tables, name) {
			d.errorAt(b.DefRange, "Table not exported",
				fmt.Sprintf("Table %q has a table block but is not in tables (%s).", name, strings.Join(d.st.tables, ", ")))
			continue
		}
		q := tc.Attributes["query"]
		d.st.queries[name] = q.Expr
		if ds := checkQuery(name, q.Expr); ds.HasErrors() {
			d.diags = append(d.diags, ds...)
			continue
		}
		if v, ds := evalString(q.Expr, d.startup); ds.HasErrors() {
			d.diags = append(d.diags, ds...)
		} else if v.IsKnown() && strings.TrimSpace(v.AsString()) == "" {
			d.errorAt(q.Range, "Empty query", fmt.Sprintf("The query of table %q is empty.", name))
		}
	}
}

// evalString evaluates a string expression; the result may be unknown at
// startup.
func evalString(expr hcl.Expression, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return v, diags
	}
	sv, err := convert.Convert(v, cty.String)
	if err != nil || sv.IsNull() {
		r := expr.Range()
		return sv, hcl.Diagnostics{errorAt(r, "Invalid value", "A string is required here.")}
	}
	return sv, nil
}

// staticString evaluates an attribute that must be a known string at
// startup (it may not refer to the event).
func staticString(a *hcl.Attribute, ctx *hcl.EvalContext, diags *hcl.Diagnostics) (string, bool) {
	v, d := evalString(a.Expr, ctx)
	if d.HasErrors() {
		*diags = append(*diags, d...)
		return "", false
	}
	if !v.IsKnown() {
		*diags = append(*diags, errorAt(a.Range, "Value depends on the event",
			a.Name+" is read once at startup and may not refer to event."))
		return "", false
	}
	return v.AsString(), true
}

// sizeValue reads a byte size given as a number or as a string such as
// "64MiB".
func sizeValue(v cty.Value) (int64, error) {
	if !v.IsWhollyKnown() || v.IsNull() {
		return 0, fmt.Errorf("a size known at startup is required")
	}
	switch v.Type() {
	case cty.Number:
		n, acc := v.AsBigFloat().Int64()
		if acc != 0 {
			return 0, fmt.Errorf("a whole number of bytes is required")
		}
		return n, nil
	case cty.String:
		return config.ParseSize(v.AsString())
	}
	return 0, fmt.Errorf(`a size such as "64MiB" is required`)
}

func wholeNumber(v cty.Value) (int, error) {
	nv, err := convert.Convert(v, cty.Number)
	if err != nil || nv.IsNull() || !nv.IsKnown() {
		return 0, fmt.Errorf("not a number")
	}
	bf := nv.AsBigFloat()
	if !bf.IsInt() {
		return 0, fmt.Errorf("not whole")
	}
	i, acc := bf.Int64()
	if acc != 0 || i > 1<<20 || i < -1<<20 {
		return 0, fmt.Errorf("out of range")
	}
	return int(i), nil
}

func errorAt(r hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: r.Ptr()}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// perEvent is what a block's per-event expressions give for one event.
type perEvent struct {
	schema  string
	queries map[string]string
}

// forEvent evaluates the per-event expressions. Errors are configuration
// errors: the expressions were only partly checked at startup.
func (st *settings) forEvent(ev *event.ModellingCompleted) (perEvent, error) {
	pe := perEvent{queries: map[string]string{}}
	if err := checkEvent(ev); err != nil {
		return pe, err
	}
	ctx := st.evalContext(ev)
	v, diags := evalString(st.schema, ctx)
	if diags.HasErrors() {
		return pe, configError("schema", diags)
	}
	if !v.IsWhollyKnown() || strings.TrimSpace(v.AsString()) == "" {
		return pe, configError("schema", fmt.Errorf("schema is empty or unknown for account %s", ev.AccountID))
	}
	pe.schema = v.AsString()
	if len(pe.schema) > maxIdentifierBytes {
		// PostgreSQL would read the schema named by its first 63 bytes,
		// which may be another account's.
		return pe, permanentf("schema %q of account %s is %d bytes, more than the %d bytes of a PostgreSQL name: it could name another account's schema",
			pe.schema, ev.AccountID, len(pe.schema), maxIdentifierBytes)
	}
	for name, expr := range st.queries {
		v, diags := evalString(expr, ctx)
		if diags.HasErrors() {
			return pe, configError(fmt.Sprintf("table %q query", name), diags)
		}
		if !v.IsWhollyKnown() || strings.TrimSpace(v.AsString()) == "" {
			return pe, configError(fmt.Sprintf("table %q query", name), fmt.Errorf("query is empty or unknown"))
		}
		pe.queries[name] = v.AsString()
	}
	return pe, nil
}
