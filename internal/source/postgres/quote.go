package postgres

import (
	"strings"

	"github.com/exportd/exportd/internal/event"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// quoteIdent quotes s as an SQL identifier the way PostgreSQL's
// quote_ident() does: unchanged when it needs no quotes (lower-case
// letters, digits and underscores, not starting with a digit, and not a
// keyword that the grammar reserves in any way), otherwise in double quotes
// with embedded double quotes doubled. The text differs from
// pgx.Identifier's, which always quotes, but names the same object.
func quoteIdent(s string) string {
	if plainIdent(s) {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func plainIdent(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] == '_') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return !quotedKeywords[s]
}

// quoteLiteral quotes s as an SQL string literal the way PostgreSQL's
// quote_literal() does: in single quotes with embedded quotes doubled, and
// when s holds a backslash, as an E” literal with backslashes doubled too,
// which reads back the same whatever standard_conforming_strings says.
func quoteLiteral(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 3)
	if strings.IndexByte(s, '\\') >= 0 {
		b.WriteByte('E')
	}
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\'' || c == '\\' {
			b.WriteByte(c)
		}
		b.WriteByte(c)
	}
	b.WriteByte('\'')
	return b.String()
}

// quotingFunctions are the HCL functions that let event values into a
// table's query: the only way in, as checkQuery enforces.
var quotingFunctions = map[string]function.Function{
	"quote_ident":   stringFunction("name", quoteIdent),
	"quote_literal": stringFunction("value", quoteLiteral),
}

func stringFunction(param string, f func(string) string) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: param, Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.StringVal(f(args[0].AsString())), nil
		},
	})
}

// withQuoting returns an evaluation context builder that adds the quoting
// functions to what the daemon's builder gives.
func withQuoting(build func(*event.ModellingCompleted) *hcl.EvalContext) func(*event.ModellingCompleted) *hcl.EvalContext {
	return func(ev *event.ModellingCompleted) *hcl.EvalContext {
		var ctx *hcl.EvalContext
		if build != nil {
			ctx = build(ev)
		}
		if ctx == nil {
			ctx = &hcl.EvalContext{}
		}
		child := ctx.NewChild()
		child.Functions = quotingFunctions
		return child
	}
}

// maxIdentifierBytes is the longest name PostgreSQL keeps (NAMEDATALEN-1):
// it silently truncates longer ones, so two long names that share their
// first 63 bytes name one object.
const maxIdentifierBytes = 63
