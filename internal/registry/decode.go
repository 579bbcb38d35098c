package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/sdk"
	"github.com/hashicorp/hcl/v2"
	hcljson "github.com/hashicorp/hcl/v2/json"
)

// Decoded is a registered destination decoded against its plugin's
// schema: what the daemon configures.
type Decoded struct {
	Destination config.Destination
	Config      sdk.Config
	// Secrets are the sensitive values, for redacting them from errors.
	Secrets []string
}

// DecodeBody decodes a destination's body (account, tables, enabled and
// the plugin's attributes, a JSON object parsed by hcl/json) against the
// plugin's schema, exactly as a destination block of the HCL file is
// decoded, and refuses attributes that only the operator's HCL may set.
// conf supplies nothing but the decoding; it may be nil.
func DecodeBody(conf *config.Config, plugin, name string, body hcl.Body, rng hcl.Range, schema sdk.Schema) (Decoded, hcl.Diagnostics) {
	d, diags := config.RegisteredDestination(plugin, name, body, rng)
	if diags.HasErrors() {
		return Decoded{}, diags
	}
	cfg, ddiags := conf.DecodeDestination(d, schema)
	diags = append(diags, ddiags...)
	if diags.HasErrors() {
		return Decoded{}, diags
	}
	if odiags := operatorOnly(d, schema, cfg); odiags.HasErrors() {
		return Decoded{}, append(diags, odiags...)
	}
	return Decoded{Destination: d, Config: cfg, Secrets: Secrets(schema, cfg)}, diags
}

// operatorOnly refuses the attributes of a registration that only the
// operator's HCL may set.
func operatorOnly(d config.Destination, schema sdk.Schema, cfg sdk.Config) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, n := range cfg.Names() {
		a := schema.Attribute(n)
		if a == nil || !isOperatorOnly(a) {
			continue
		}
		detail := fmt.Sprintf("%s may be set only in the daemon's HCL configuration, not through the registry API", n)
		switch {
		case a.Required:
			detail += fmt.Sprintf(": destinations of plugin %s cannot be registered at run time.", schema.Name)
		case a.Default != nil:
			detail += fmt.Sprintf("; leave it out: plugin %s then uses its default.", schema.Name)
		default:
			detail += "; leave it out."
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Attribute reserved to the operator",
			Detail:   detail,
			Subject:  d.AttributeRange(n).Ptr(),
		})
	}
	return diags
}

// Secrets lists the sensitive values of cfg as they may appear in text,
// for Redact.
func Secrets(schema sdk.Schema, cfg sdk.Config) []string {
	var out []string
	for _, n := range cfg.Names() {
		a := schema.Attribute(n)
		if a == nil || !a.Sensitive {
			continue
		}
		switch a.Type {
		case sdk.TypeString:
			out = append(out, cfg.String(n))
		case sdk.TypeStringList:
			out = append(out, cfg.Strings(n)...)
		case sdk.TypeStringMap:
			for _, v := range cfg.StringMap(n) {
				out = append(out, v)
			}
		default:
			out = append(out, string(cfg.JSON()))
		}
	}
	return out
}

// Redact replaces every secret in s.
func Redact(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "(sensitive)")
		}
	}
	return s
}

// NewRecord makes the record of a decoded registration, sealing its
// sensitive attributes with keys. Without keys, a sensitive attribute is
// refused (ErrNoKey), naming it.
func NewRecord(dec Decoded, schema sdk.Schema, keys *Keyring) (Record, error) {
	d := dec.Destination
	r := Record{Name: d.Name, Plugin: d.Plugin, Account: d.Account, Tables: d.Tables, Enabled: d.Enabled}
	var values map[string]json.RawMessage
	if err := json.Unmarshal(dec.Config.JSON(), &values); err != nil {
		return Record{}, fmt.Errorf("encode destination %s: %w", d.Name, err)
	}
	for _, n := range sortedKeys(values) {
		a := schema.Attribute(n)
		if a == nil || !a.Sensitive {
			if r.Attributes == nil {
				r.Attributes = map[string]json.RawMessage{}
			}
			r.Attributes[n] = values[n]
			continue
		}
		s, err := keys.Seal(d.Name, n, values[n])
		if errors.Is(err, ErrNoKey) {
			return Record{}, sdk.ConfigError(n, fmt.Errorf("%s is sensitive and the daemon has no registry key to encrypt it: set registry { key_file } in its configuration", n))
		}
		if err != nil {
			return Record{}, err
		}
		if r.Sealed == nil {
			r.Sealed = map[string]Sealed{}
		}
		r.Sealed[n] = s
	}
	return r, nil
}

// Body returns the destination's body as the JSON object it was decoded
// from, its sensitive attributes opened with keys.
func (r Record) Body(keys *Keyring) ([]byte, error) {
	m := map[string]any{"account": r.Account, "enabled": r.Enabled}
	if len(r.Tables) > 0 {
		m["tables"] = r.Tables
	}
	for n, v := range r.Attributes {
		m[n] = v
	}
	for n, s := range r.Sealed {
		v, err := keys.Open(r.Name, n, s)
		if err != nil {
			return nil, err
		}
		m[n] = json.RawMessage(v)
	}
	return json.Marshal(m)
}

// Decode decodes a stored record against its plugin's current schema, by
// the same path as a request (DecodeBody), so that a record that a newer
// plugin no longer accepts is found out.
func Decode(conf *config.Config, e Entry, keys *Keyring, schema sdk.Schema) (Decoded, error) {
	body, err := e.Body(keys)
	if err != nil {
		return Decoded{}, err
	}
	filename := fmt.Sprintf("registry:%s@%d", e.Name, e.Revision)
	f, diags := hcljson.Parse(body, filename)
	if diags.HasErrors() {
		return Decoded{}, errors.New(diagnosticsText(diags))
	}
	dec, diags := DecodeBody(conf, e.Plugin, e.Name, f.Body, hcl.Range{Filename: filename}, schema)
	if diags.HasErrors() {
		return Decoded{}, errors.New(diagnosticsText(diags))
	}
	return dec, nil
}

// diagnosticsText renders diagnostics on one line each, without source
// excerpts (which could hold secrets).
func diagnosticsText(diags hcl.Diagnostics) string {
	var b bytes.Buffer
	for i, d := range diags.Errs() {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(d.Error())
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortStrings(s []string) { sort.Strings(s) }

func compareStrings(a, b string) int { return strings.Compare(a, b) }
