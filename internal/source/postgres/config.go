package postgres

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

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
// the right type.
func decode(body hcl.Body, env source.Env) (*settings, hcl.Diagnostics) {
	content, diags := body.Content(blockSchema)
	if diags.HasErrors() {
		return nil, diags
	}
	var startup *hcl.EvalContext
	if env.EvalContext != nil {
		startup = env.EvalContext(nil)
	}
	st := &settings{
		parallel:    DefaultParallelism,
		tables:      DefaultTables,
		queries:     map[string]hcl.Expression{},
		evalContext: env.EvalContext,
	}
	attrs := content.Attributes

	// dsn or dsn_file, exactly one, known at startup.
	dsnAttr, fileAttr := attrs["dsn"], attrs["dsn_file"]
	switch {
	case dsnAttr != nil && fileAttr != nil:
		diags = append(diags, errorAt(fileAttr.Range, "Conflicting DSN attributes", "Give either dsn or dsn_file, not both."))
	case dsnAttr == nil && fileAttr == nil:
		diags = append(diags, errorAt(content.MissingItemRange, "Missing DSN",
			`Give dsn (e.g. dsn = env("EXPORTD_PG_DSN")) or dsn_file (the path of a file holding the DSN).`))
	case dsnAttr != nil:
		// The value is a secret: diagnostics name the attribute only.
		if v, ok := staticString(dsnAttr, startup, &diags); ok {
			if strings.TrimSpace(v) == "" {
				diags = append(diags, errorAt(dsnAttr.Range, "Empty DSN", "dsn is empty."))
			}
			st.dsn = strings.TrimSpace(v)
		}
	default:
		if p, ok := staticString(fileAttr, startup, &diags); ok {
			b, err := os.ReadFile(p)
			switch {
			case err != nil:
				diags = append(diags, errorAt(fileAttr.Range, "Unreadable DSN file", err.Error()))
			case strings.TrimSpace(string(b)) == "":
				diags = append(diags, errorAt(fileAttr.Range, "Empty DSN file", p+" holds no DSN."))
			default:
				st.dsn = strings.TrimSpace(string(b))
			}
		}
	}
	if st.dsn != "" {
		if _, err := parseDSN(st.dsn, st); err != nil {
			r := content.MissingItemRange
			if dsnAttr != nil {
				r = dsnAttr.Range
			} else if fileAttr != nil {
				r = fileAttr.Range
			}
			diags = append(diags, errorAt(r, "Invalid DSN", err.Error()))
		}
	}

	// schema: per event; at startup it must be a string, known or not.
	st.schema = attrs["schema"].Expr
	if v, d := evalString(st.schema, startup); d.HasErrors() {
		diags = append(diags, d...)
	} else if v.IsKnown() && strings.TrimSpace(v.AsString()) == "" {
		diags = append(diags, errorAt(attrs["schema"].Range, "Empty schema", "schema evaluates to an empty string."))
	}

	if a := attrs["parallelism"]; a != nil {
		v, d := a.Expr.Value(startup)
		diags = append(diags, d...)
		if !d.HasErrors() {
			n, err := wholeNumber(v)
			if err != nil || n < 1 || n > maxParallelism {
				diags = append(diags, errorAt(a.Range, "Invalid parallelism",
					fmt.Sprintf("parallelism must be a whole number from 1 to %d.", maxParallelism)))
			} else {
				st.parallel = n
			}
		}
	}
	for _, t := range []struct {
		name string
		dst  *time.Duration
	}{{"statement_timeout", &st.statementTimeout}, {"lock_timeout", &st.lockTimeout}} {
		a := attrs[t.name]
		if a == nil {
			continue
		}
		if s, ok := staticString(a, startup, &diags); ok {
			d, err := time.ParseDuration(s)
			if err != nil || d < 0 || (d > 0 && d < time.Millisecond) {
				diags = append(diags, errorAt(a.Range, "Invalid "+t.name,
					t.name+` is a duration such as "30m" or "1h30m" ("0" for none), at least 1ms.`))
			} else {
				*t.dst = d
			}
		}
	}
	if a := attrs["unconstrained_numeric"]; a != nil {
		if s, ok := staticString(a, startup, &diags); ok {
			c, err := parseNumericChoice(s)
			if err != nil {
				diags = append(diags, errorAt(a.Range, "Invalid unconstrained_numeric", err.Error()+"."))
			}
			st.numeric = c
		}
	}
	if a := attrs["tables"]; a != nil {
		st.tables = nil
		v, d := a.Expr.Value(startup)
		diags = append(diags, d...)
		if !d.HasErrors() {
			lv, err := convert.Convert(v, cty.List(cty.String))
			if err != nil || !lv.IsWhollyKnown() || lv.IsNull() {
				diags = append(diags, errorAt(a.Range, "Invalid tables", "tables is a list of table names known at startup."))
			} else {
				seen := map[string]bool{}
				for _, e := range lv.AsValueSlice() {
					if e.IsNull() || e.AsString() == "" {
						diags = append(diags, errorAt(a.Range, "Invalid tables", "A table name is empty."))
						continue
					}
					n := e.AsString()
					if seen[n] {
						diags = append(diags, errorAt(a.Range, "Duplicate table", fmt.Sprintf("Table %q is listed twice.", n)))
					}
					seen[n] = true
					st.tables = append(st.tables, n)
				}
				if len(lv.AsValueSlice()) == 0 {
					diags = append(diags, errorAt(a.Range, "No tables", "tables is empty: there would be nothing to export."))
				}
			}
		}
	}
	for _, b := range content.Blocks {
		name := b.Labels[0]
		tc, d := b.Body.Content(tableSchema)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if _, dup := st.queries[name]; dup {
			diags = append(diags, errorAt(b.DefRange, "Duplicate table block", fmt.Sprintf("Table %q has two table blocks.", name)))
			continue
		}
		if !contains(st.tables, name) {
			diags = append(diags, errorAt(b.DefRange, "Table not exported",
				fmt.Sprintf("Table %q has a table block but is not in tables (%s).", name, strings.Join(st.tables, ", "))))
			continue
		}
		q := tc.Attributes["query"]
		if v, d := evalString(q.Expr, startup); d.HasErrors() {
			diags = append(diags, d...)
		} else if v.IsKnown() && strings.TrimSpace(v.AsString()) == "" {
			diags = append(diags, errorAt(q.Range, "Empty query", fmt.Sprintf("The query of table %q is empty.", name)))
		}
		st.queries[name] = q.Expr
	}
	return st, diags
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
	var ctx *hcl.EvalContext
	if st.evalContext != nil {
		ctx = st.evalContext(ev)
	}
	pe := perEvent{queries: map[string]string{}}
	v, diags := evalString(st.schema, ctx)
	if diags.HasErrors() {
		return pe, configError("schema", diags)
	}
	if !v.IsWhollyKnown() || strings.TrimSpace(v.AsString()) == "" {
		return pe, configError("schema", fmt.Errorf("schema is empty or unknown for account %s", ev.AccountID))
	}
	pe.schema = v.AsString()
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
