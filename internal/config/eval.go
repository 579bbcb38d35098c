package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// evalContext is the context for expressions outside per-event blocks:
// functions, no variables. Relative paths given to file() are taken from
// dir, the configuration file's directory.
func evalContext(dir string) *hcl.EvalContext {
	return &hcl.EvalContext{Functions: functions(dir)}
}

// EventContext returns the context in which per-event expressions of the
// source block are evaluated: the configuration's functions plus the
// variable event, an object with the event's account_id, run_id,
// completed_at (RFC 3339) and snapshot. A nil ev gives the startup-check
// context, in which each of them is an unknown string.
func (c *Config) EventContext(ev *event.ModellingCompleted) *hcl.EvalContext {
	ctx := evalContext(c.Dir)
	var obj cty.Value
	if ev == nil {
		obj = cty.ObjectVal(map[string]cty.Value{
			"account_id":   cty.UnknownVal(cty.String),
			"run_id":       cty.UnknownVal(cty.String),
			"completed_at": cty.UnknownVal(cty.String),
			"snapshot":     cty.UnknownVal(cty.String),
		})
	} else {
		obj = cty.ObjectVal(map[string]cty.Value{
			"account_id":   cty.StringVal(ev.AccountID),
			"run_id":       cty.StringVal(ev.RunID),
			"completed_at": cty.StringVal(ev.CompletedAt.UTC().Format(time.RFC3339Nano)),
			"snapshot":     cty.StringVal(ev.Snapshot),
		})
	}
	ctx.Variables = map[string]cty.Value{"event": obj}
	return ctx
}

func functions(dir string) map[string]function.Function {
	return map[string]function.Function{
		"env":       envFunc,
		"file":      fileFunc(dir),
		"lower":     stdlib.LowerFunc,
		"upper":     stdlib.UpperFunc,
		"trimspace": stdlib.TrimSpaceFunc,
		"replace":   stdlib.ReplaceFunc,
		"format":    stdlib.FormatFunc,
		"coalesce":  stdlib.CoalesceFunc,
	}
}

// envFunc is env(name) or env(name, default): the value of an environment
// variable. Without a default, an unset variable is an error, so that a
// forgotten secret stops the daemon at startup instead of at 3 a.m.
var envFunc = function.New(&function.Spec{
	Params:   []function.Parameter{{Name: "name", Type: cty.String}},
	VarParam: &function.Parameter{Name: "default", Type: cty.String},
	Type:     function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if len(args) > 2 {
			return cty.NilVal, fmt.Errorf("env takes a name and an optional default")
		}
		name := args[0].AsString()
		if v, ok := os.LookupEnv(name); ok {
			return cty.StringVal(v), nil
		}
		if len(args) == 2 {
			return args[1], nil
		}
		return cty.NilVal, fmt.Errorf("environment variable %s is not set (give a default with env(%q, \"…\"))", name, name)
	},
})

// fileFunc is file(path): a file's contents with surrounding whitespace
// trimmed, for secrets kept in files (a DSN, say).
func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return cty.NilVal, fmt.Errorf("read %s: %w", p, err)
			}
			return cty.StringVal(strings.TrimSpace(string(b))), nil
		},
	})
}
