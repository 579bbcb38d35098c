package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"

	"github.com/exportd/exportd/sdk/host"
)

// decoder evaluates attributes one by one so that every error points at
// the attribute's value. Nil attributes (not set) leave defaults alone.
type decoder struct {
	ctx   *hcl.EvalContext
	dir   string
	diags hcl.Diagnostics
}

func (d *decoder) errorf(rng hcl.Range, summary, detail string) {
	d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()})
}

// attrs decodes a body that may hold only the named attributes.
func (d *decoder) attrs(body hcl.Body, names ...string) hcl.Attributes {
	schema := &hcl.BodySchema{}
	for _, n := range names {
		schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: n})
	}
	content, diags := body.Content(schema)
	d.diags = append(d.diags, diags...)
	if content == nil {
		return hcl.Attributes{}
	}
	return content.Attributes
}

func (d *decoder) decode(a *hcl.Attribute, dst any) bool {
	diags := gohcl.DecodeExpression(a.Expr, d.ctx, dst)
	d.diags = append(d.diags, diags...)
	return !diags.HasErrors()
}

func (d *decoder) str(a *hcl.Attribute, dst *string) {
	if a != nil {
		d.decode(a, dst)
	}
}

// secret decodes a string that must never be shown: its diagnostics name
// the attribute, not the value. Empty means none, so that
// env("NAME", "") can leave it unset.
func (d *decoder) secret(a *hcl.Attribute, dst *string) {
	if a == nil {
		return
	}
	var v string
	diags := gohcl.DecodeExpression(a.Expr, d.ctx, &v)
	d.diags = append(d.diags, MarkSensitive(diags)...)
	if diags.HasErrors() {
		return
	}
	if v != "" && strings.TrimSpace(v) != v {
		d.sensitiveErrorf(a.Expr.Range(), "Invalid "+a.Name, a.Name+" has leading or trailing white space (a newline from a file, say).")
		return
	}
	*dst = v
}

// sensitiveErrorf is errorf for a subject that holds a secret.
func (d *decoder) sensitiveErrorf(rng hcl.Range, summary, detail string) {
	d.errorf(rng, summary, detail)
	MarkSensitive(d.diags[len(d.diags)-1:])
}

func (d *decoder) strs(a *hcl.Attribute, dst *[]string) {
	if a != nil {
		d.decode(a, dst)
	}
}

func (d *decoder) boolean(a *hcl.Attribute, dst *bool) {
	if a != nil {
		d.decode(a, dst)
	}
}

func (d *decoder) intRange(a *hcl.Attribute, dst *int, lo, hi int) {
	if a == nil {
		return
	}
	var v int
	if !d.decode(a, &v) {
		return
	}
	if v < lo || v > hi {
		d.errorf(a.Expr.Range(), "Value out of range", fmt.Sprintf("%s must be between %d and %d.", a.Name, lo, hi))
		return
	}
	*dst = v
}

func (d *decoder) oneOf(a *hcl.Attribute, dst *string, allowed ...string) {
	if a == nil {
		return
	}
	var v string
	if !d.decode(a, &v) {
		return
	}
	for _, ok := range allowed {
		if v == ok {
			*dst = v
			return
		}
	}
	d.errorf(a.Expr.Range(), "Invalid value", fmt.Sprintf("%s must be one of %s, not %q.", a.Name, strings.Join(allowed, ", "), v))
}

var natsName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// name decodes a NATS stream, consumer or bucket name.
func (d *decoder) name(a *hcl.Attribute, dst *string) {
	if a == nil {
		return
	}
	var v string
	if !d.decode(a, &v) {
		return
	}
	if !natsName.MatchString(v) {
		d.errorf(a.Expr.Range(), "Invalid name", fmt.Sprintf("%s %q: use letters, digits, _ and -, at most 64.", a.Name, v))
		return
	}
	*dst = v
}

// path decodes a file system path, made absolute against the
// configuration file's directory.
func (d *decoder) path(a *hcl.Attribute, def string) string {
	v := def
	if a != nil {
		d.decode(a, &v)
	}
	if v == "" {
		return ""
	}
	if !filepath.IsAbs(v) {
		v = filepath.Join(d.dir, v)
	}
	return filepath.Clean(v)
}

func (d *decoder) duration(a *hcl.Attribute, dst *time.Duration, min time.Duration) {
	if a == nil {
		return
	}
	var s string
	if !d.decode(a, &s) {
		return
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.errorf(a.Expr.Range(), "Invalid duration", fmt.Sprintf("%s: %q is not a duration like \"90s\" or \"5m\".", a.Name, s))
		return
	}
	if v < min {
		d.errorf(a.Expr.Range(), "Duration too short", fmt.Sprintf("%s must be at least %v.", a.Name, min))
		return
	}
	*dst = v
}

func (d *decoder) durations(a *hcl.Attribute, dst *[]time.Duration) {
	if a == nil {
		return
	}
	var ss []string
	if !d.decode(a, &ss) {
		return
	}
	out := make([]time.Duration, 0, len(ss))
	for _, s := range ss {
		v, err := time.ParseDuration(s)
		if err != nil || v <= 0 {
			d.errorf(a.Expr.Range(), "Invalid duration", fmt.Sprintf("%s: %q is not a positive duration like \"30s\".", a.Name, s))
			return
		}
		out = append(out, v)
	}
	*dst = out
}

func (d *decoder) size(a *hcl.Attribute, dst *int64, lo, hi int64) {
	if a == nil {
		return
	}
	var raw cty.Value
	if !d.decode(a, &raw) {
		return
	}
	var v int64
	var err error
	switch {
	case raw.IsNull() || !raw.IsKnown():
		err = fmt.Errorf("no value")
	case raw.Type() == cty.Number:
		f, _ := raw.AsBigFloat().Int64()
		v = f
	case raw.Type() == cty.String:
		v, err = ParseSize(raw.AsString())
	default:
		err = fmt.Errorf("want a size such as \"128MiB\"")
	}
	if err != nil {
		d.errorf(a.Expr.Range(), "Invalid size", fmt.Sprintf("%s: %v.", a.Name, err))
		return
	}
	if v < lo || v > hi {
		d.errorf(a.Expr.Range(), "Size out of range", fmt.Sprintf("%s must be between %s and %s.", a.Name, FormatSize(lo), FormatSize(hi)))
		return
	}
	*dst = v
}

func (d *decoder) sha256(a *hcl.Attribute, dst *string) {
	if a == nil {
		return
	}
	var v string
	if !d.decode(a, &v) {
		return
	}
	v = strings.ToLower(strings.TrimSpace(v))
	if b, err := hex.DecodeString(v); err != nil || len(b) != 32 {
		d.errorf(a.Expr.Range(), "Invalid SHA-256", "sha256 must be 64 hexadecimal digits, as printed by sha256sum.")
		return
	}
	*dst = v
}

// loopbackAddr decodes a host:port that must be on the loopback interface.
func (d *decoder) loopbackAddr(a *hcl.Attribute, dst *string) {
	if a == nil {
		return
	}
	var v string
	if !d.decode(a, &v) || v == "" {
		return
	}
	host, _, err := net.SplitHostPort(v)
	if err != nil {
		d.errorf(a.Expr.Range(), "Invalid address", fmt.Sprintf("%s: %v.", a.Name, err))
		return
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		d.errorf(a.Expr.Range(), "Address not on loopback",
			"The embedded NATS server listens only on 127.0.0.1, ::1 or localhost, without TLS. Run a NATS cluster for remote access.")
		return
	}
	*dst = v
}

// envPatterns decodes a list of environment variable names and prefixes
// followed by a star, as a plugin block's env takes.
func (d *decoder) envPatterns(a *hcl.Attribute, dst *[]string) {
	if a == nil {
		return
	}
	var v []string
	if !d.decode(a, &v) {
		return
	}
	for _, p := range v {
		if err := host.CheckEnvPattern(p); err != nil {
			d.errorf(a.Expr.Range(), "Invalid environment variable pattern", fmt.Sprintf("%s: %v.", a.Name, err))
			return
		}
	}
	*dst = v
}
