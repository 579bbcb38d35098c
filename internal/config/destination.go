package config

import (
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
// one, or a value of the wrong type is a diagnostic at its source range.
func (c *Config) DecodeDestination(d Destination, schema sdk.Schema) (sdk.Config, hcl.Diagnostics) {
	spec := hcldec.ObjectSpec{}
	for _, a := range schema.Attributes {
		spec[a.Name] = &hcldec.AttrSpec{Name: a.Name, Type: attrTypes[a.Type], Required: a.Required}
	}
	val, diags := hcldec.Decode(d.Body, spec, evalContext(c.Dir))
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
	return cfg, diags
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
// every sensitive attribute's value replaced.
func Redact(schema sdk.Schema, cfg sdk.Config) string {
	names := cfg.Names()
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		a := schema.Attribute(n)
		switch {
		case a == nil || a.Sensitive:
			parts = append(parts, n+"=(sensitive)")
		case a.Type == sdk.TypeString:
			parts = append(parts, fmt.Sprintf("%s=%q", n, cfg.String(n)))
		case a.Type == sdk.TypeStringList:
			parts = append(parts, fmt.Sprintf("%s=%q", n, cfg.Strings(n)))
		case a.Type == sdk.TypeBool:
			parts = append(parts, fmt.Sprintf("%s=%t", n, cfg.Bool(n, false)))
		case a.Type == sdk.TypeNumber || a.Type == sdk.TypeInteger:
			parts = append(parts, fmt.Sprintf("%s=%v", n, cfg.Float(n, 0)))
		default:
			parts = append(parts, n+"=…")
		}
	}
	return strings.Join(parts, " ")
}
