package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/exportd/exportd/sdk"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

var attrTypes = map[sdk.AttributeType]cty.Type{
	sdk.TypeString:     cty.String,
	sdk.TypeNumber:     cty.Number,
	sdk.TypeInteger:    cty.Number,
	sdk.TypeBool:       cty.Bool,
	sdk.TypeStringList: cty.List(cty.String),
	sdk.TypeStringMap:  cty.Map(cty.String),
}

// DecodeDestination decodes a destination's own attributes against its
// plugin's schema. An unknown or misspelt attribute, a missing required
// one, a value of the wrong type, and a value outside the attribute's
// declared values or range is a diagnostic at its source range. The
// schema's defaults are not filled in: the plugin's SDK does that (see
// Redact for showing them).
func (c *Config) DecodeDestination(d Destination, schema sdk.Schema) (sdk.Config, hcl.Diagnostics) {
	spec := hcldec.ObjectSpec{}
	for _, a := range schema.Attributes {
		spec[a.Name] = &hcldec.AttrSpec{Name: a.Name, Type: attrTypes[a.Type], Required: a.Required}
	}
	val, diags := hcldec.Decode(d.Body, spec, c.destinationContext(d))
	d.MarkSensitive(schema, diags)
	if diags.HasErrors() {
		return sdk.Config{}, diags
	}
	if !val.IsWhollyKnown() {
		return sdk.Config{}, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Unknown value",
			Detail:  fmt.Sprintf("Destination %q has a value that is not known at startup.", d.Name),
			Subject: d.DeclRange.Ptr(),
		})
	}
	raw, err := ctyjson.Marshal(val, val.Type())
	if err != nil {
		return sdk.Config{}, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot encode destination configuration", Detail: err.Error(), Subject: d.DeclRange.Ptr()})
	}
	cfg, err := sdk.ParseConfig(raw)
	if err != nil {
		return sdk.Config{}, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot encode destination configuration", Detail: err.Error(), Subject: d.DeclRange.Ptr()})
	}
	if cdiags := d.constraintDiagnostics(schema, cfg); cdiags.HasErrors() {
		return sdk.Config{}, append(diags, cdiags...)
	}
	return cfg, diags
}

// destinationContext is the context a destination's attributes are
// evaluated in: the file's functions for the file's destinations, none for
// registered ones, whose values come from the API and are taken literally
// (so that no request can read the daemon's environment or files).
func (c *Config) destinationContext(d Destination) *hcl.EvalContext {
	if d.Registered || c == nil {
		return nil
	}
	return evalContext(c.Dir)
}

// constraintDiagnostics checks the values against the schema's declared
// values, ranges and whole numbers (the same check the plugin's SDK makes
// before Configure), each problem a diagnostic on the attribute's value.
func (d Destination) constraintDiagnostics(schema sdk.Schema, cfg sdk.Config) hcl.Diagnostics {
	err := schema.ValidateConfig(cfg)
	if err == nil {
		return nil
	}
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	var diags hcl.Diagnostics
	for _, e := range errs {
		var se *sdk.Error
		if !errors.As(e, &se) {
			continue
		}
		rng := d.AttributeRange(se.Attribute)
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for " + se.Attribute,
			Detail:   fmt.Sprintf("Destination %q (plugin %s): %v.", d.Name, schema.Name, se.Err),
			Subject:  rng.Ptr(),
		})
	}
	return d.MarkSensitive(schema, diags)
}

// AttributeRange returns the source range of a destination attribute's
// value, or the block's range when the attribute is not set. It lets a
// plugin's configuration error point into the file.
func (d Destination) AttributeRange(name string) hcl.Range {
	attrs, _ := d.Body.JustAttributes()
	if a, ok := attrs[name]; ok {
		return a.Expr.Range()
	}
	return d.DeclRange
}

// MarkSensitive marks as Sensitive the diagnostics whose subject lies in
// an attribute the schema says is sensitive, so that printing them does not
// show its line. It returns diags.
func (d Destination) MarkSensitive(schema sdk.Schema, diags hcl.Diagnostics) hcl.Diagnostics {
	attrs, _ := d.Body.JustAttributes()
	for _, diag := range diags {
		for _, a := range attrs {
			sa := schema.Attribute(a.Name)
			if sa != nil && sa.Sensitive && diag.Subject != nil && a.Range.Overlaps(*diag.Subject) {
				diag.Extra = Sensitive{}
			}
		}
	}
	return diags
}

// Redact renders a destination configuration for logs and messages, with
// every sensitive attribute's value replaced, and the schema's defaults
// for what the configuration leaves unset, each marked "(default)": what
// the plugin will use.
func Redact(schema sdk.Schema, cfg sdk.Config) string {
	all := schema.WithDefaults(cfg)
	names := all.Names()
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		part := redactOne(schema.Attribute(n), n, all)
		if !cfg.Has(n) {
			part += " (default)"
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, " ")
}

func redactOne(a *sdk.Attribute, n string, cfg sdk.Config) string {
	switch {
	case a == nil || a.Sensitive:
		return n + "=(sensitive)"
	case a.Type == sdk.TypeString:
		return fmt.Sprintf("%s=%q", n, cfg.String(n))
	case a.Type == sdk.TypeStringList:
		return fmt.Sprintf("%s=%q", n, cfg.Strings(n))
	case a.Type == sdk.TypeBool:
		return fmt.Sprintf("%s=%t", n, cfg.Bool(n, false))
	case a.Type == sdk.TypeNumber || a.Type == sdk.TypeInteger:
		return fmt.Sprintf("%s=%v", n, cfg.Float(n, 0))
	}
	return n + "=…"
}
