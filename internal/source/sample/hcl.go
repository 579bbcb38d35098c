package sample

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/source"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

func init() { source.Register("sample", factory) }

// configExprs are the attributes of a sample source block:
//
//	source "sample" {
//	  seed   = 7                        # default 1
//	  scale  = 10                       # default 1
//	  rows   = { events = 5000000 }     # exact counts, override scale
//	  tables = ["companies", "events"]  # default: all six
//	}
//
// They are kept as expressions and evaluated for each event, so they may
// refer to it (scale = event.account_id == "bigco" ? 100 : 1).
type configExprs struct {
	Seed   hcl.Expression `hcl:"seed,optional"`
	Scale  hcl.Expression `hcl:"scale,optional"`
	Rows   hcl.Expression `hcl:"rows,optional"`
	Tables hcl.Expression `hcl:"tables,optional"`
}

// factory checks the block at startup: unknown attributes, and the values
// of attributes that do not depend on the event.
func factory(body hcl.Body, env source.Env) (source.Source, hcl.Diagnostics) {
	var exprs configExprs
	diags := gohcl.DecodeBody(body, nil, &exprs)
	if diags.HasErrors() {
		return nil, diags
	}
	_, more := exprs.decode(evalContext(env, nil), false)
	diags = append(diags, more...)
	if diags.HasErrors() {
		return nil, diags
	}
	return &Source{exprs: &exprs, env: env}, diags
}

func evalContext(env source.Env, ev *event.ModellingCompleted) *hcl.EvalContext {
	if env.EvalContext == nil {
		return nil
	}
	return env.EvalContext(ev)
}

// decode evaluates the attributes into a Config. When final is false (at
// startup), values that are not known yet are left out of the checks;
// when it is true (at export time), an unknown value is an error.
func (e *configExprs) decode(ctx *hcl.EvalContext, final bool) (Config, hcl.Diagnostics) {
	d := &decoder{ctx: ctx, final: final}
	var cfg Config

	if v, ok := d.value(e.Seed, "seed", cty.Number); ok {
		f := v.AsBigFloat()
		u, acc := f.Uint64()
		if !f.IsInt() || acc != big.Exact || u == 0 {
			d.fail(e.Seed, "Invalid seed", fmt.Sprintf("The seed must be a whole number from 1 to %d.", uint64(math.MaxUint64)))
		}
		cfg.Seed = u
	}

	if v, ok := d.value(e.Scale, "scale", cty.Number); ok {
		f, _ := v.AsBigFloat().Float64()
		if err := checkScale(f); err != nil {
			d.fail(e.Scale, "Invalid scale", capitalize(err.Error())+".")
		}
		cfg.Scale = f
	}

	cfg.Rows = d.rows(e.Rows)
	cfg.Tables = d.tables(e.Tables)

	if !d.diags.HasErrors() && !d.unknown {
		if err := cfg.Validate(); err != nil {
			d.fail(e.Rows, "Invalid sample source", capitalize(err.Error())+".")
		}
	}
	return cfg, d.diags
}

// decoder gathers the diagnostics of one evaluation.
type decoder struct {
	ctx     *hcl.EvalContext
	final   bool
	unknown bool // some value was not known yet
	diags   hcl.Diagnostics
}

// value evaluates expr and converts it to ty. It is false when the
// attribute is absent or unknown, or when its value is invalid (with a
// diagnostic).
func (d *decoder) value(expr hcl.Expression, name string, ty cty.Type) (cty.Value, bool) {
	v, diags := expr.Value(d.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || v.IsNull() {
		return v, false
	}
	if !v.IsWhollyKnown() {
		if d.final {
			d.fail(expr, "Unknown "+name, "The value of "+name+" is not known when the export starts.")
		}
		d.unknown = true
		return v, false
	}
	c, err := convert.Convert(v, ty)
	if err != nil {
		d.fail(expr, "Invalid "+name, fmt.Sprintf("The %s must be %s: %s.", name, ty.FriendlyName(), err))
		return v, false
	}
	if c.IsNull() {
		return c, false
	}
	return c, true
}

func (d *decoder) fail(expr hcl.Expression, summary, detail string) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity:    hcl.DiagError,
		Summary:     summary,
		Detail:      detail,
		Subject:     expr.Range().Ptr(),
		Expression:  expr,
		EvalContext: d.ctx,
	})
}

// rows decodes the rows attribute. A map written out in the file is
// checked item by item, so a diagnostic points at the item at fault.
func (d *decoder) rows(expr hcl.Expression) map[string]int64 {
	whole, diags := expr.Value(d.ctx)
	if diags.HasErrors() || whole.IsNull() {
		d.diags = append(d.diags, diags...)
		return nil
	}
	rows := map[string]int64{}
	if pairs, diags := hcl.ExprMap(expr); !diags.HasErrors() {
		for _, p := range pairs {
			k, kok := d.value(p.Key, "table name", cty.String)
			n, nok := d.value(p.Value, "row count", cty.Number)
			if kok {
				d.rowCount(rows, p.Key, k.AsString(), p.Value, n, nok)
			}
		}
		return rows
	}
	v, ok := d.value(expr, "rows", cty.Map(cty.Number))
	if !ok {
		return nil
	}
	for it := v.ElementIterator(); it.Next(); {
		k, n := it.Element()
		d.rowCount(rows, expr, k.AsString(), expr, n, n.IsKnown())
	}
	return rows
}

func (d *decoder) rowCount(rows map[string]int64, keyExpr hcl.Expression, table string, valueExpr hcl.Expression, n cty.Value, known bool) {
	if _, ok := tableIndex(table); !ok {
		d.fail(keyExpr, "Unknown table", fmt.Sprintf("The sample source has no table %q; its tables are %s.", table, strings.Join(tableNames[:], ", ")))
		return
	}
	if _, dup := rows[table]; dup {
		d.fail(keyExpr, "Duplicate table", fmt.Sprintf("The rows of %s are given twice.", table))
		return
	}
	if !known {
		return
	}
	f := n.AsBigFloat()
	c, acc := f.Int64()
	if !f.IsInt() || acc != big.Exact || checkRows(c) != nil {
		d.fail(valueExpr, "Invalid row count", fmt.Sprintf("The rows of %s must be a whole number from 0 to %d.", table, int64(MaxRows)))
		return
	}
	rows[table] = c
}

// tables decodes the tables attribute, item by item when it is a list
// written out in the file.
func (d *decoder) tables(expr hcl.Expression) []string {
	whole, diags := expr.Value(d.ctx)
	if diags.HasErrors() || whole.IsNull() {
		d.diags = append(d.diags, diags...)
		return nil
	}
	var names []string
	check := func(item hcl.Expression, name string) {
		switch _, ok := tableIndex(name); {
		case !ok:
			d.fail(item, "Unknown table", fmt.Sprintf("The sample source has no table %q; its tables are %s.", name, strings.Join(tableNames[:], ", ")))
		case slices.Contains(names, name):
			d.fail(item, "Duplicate table", fmt.Sprintf("Table %s is listed twice.", name))
		default:
			names = append(names, name)
		}
	}
	if items, diags := hcl.ExprList(expr); !diags.HasErrors() {
		for _, item := range items {
			if v, ok := d.value(item, "table name", cty.String); ok {
				check(item, v.AsString())
			}
		}
		return names
	}
	v, ok := d.value(expr, "tables", cty.List(cty.String))
	if !ok {
		return nil
	}
	for it := v.ElementIterator(); it.Next(); {
		_, name := it.Element()
		check(expr, name.AsString())
	}
	return names
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
