package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/exportd/exportd/internal/config"
	"github.com/hashicorp/hcl/v2/hclparse"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// readAttributes reads a destination's attributes from a file: a JSON
// object (.json), or HCL attributes as in a destination block (.hcl),
// whose values must be literal (no env() or file(): the daemons' API takes
// values, not expressions).
func readAttributes(path string) (map[string]any, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if strings.EqualFold(filepath.Ext(path), ".json") {
		dec := json.NewDecoder(bytes.NewReader(src))
		dec.UseNumber()
		if err := dec.Decode(&out); err != nil {
			return nil, fmt.Errorf("%s: not a JSON object: %w", path, err)
		}
		return out, nil
	}
	p := hclparse.NewParser()
	f, diags := p.ParseHCL(src, path)
	if !diags.HasErrors() {
		attrs, adiags := f.Body.JustAttributes()
		diags = append(diags, adiags...)
		for name, a := range attrs {
			v, vdiags := a.Expr.Value(nil)
			diags = append(diags, vdiags...)
			if vdiags.HasErrors() {
				continue
			}
			raw, err := ctyjson.Marshal(v, v.Type())
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, name, err)
			}
			out[name] = json.RawMessage(raw)
		}
	}
	if diags.HasErrors() {
		config.WriteDiagnostics(os.Stderr, p.Files(), diags)
		return nil, fmt.Errorf("%s: invalid attributes", path)
	}
	return out, nil
}
