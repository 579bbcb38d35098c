package postgres

import (
	"fmt"
	"strings"

	"github.com/exportd/exportd/internal/event"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Event values come from the network. Where they reach the database, the
// configuration must say how, so that no event can name another account's
// objects or change a query's meaning; these checks run at startup, so
// that `exportd validate` refuses what could leak, pointing at it.
//
//   - schema: event values appear only as ${event.NAME} interpolations,
//     kept verbatim (a function such as lower() could map two accounts to
//     one name), and two of them are separated by a character that no id
//     holds (say "."), or "acct_${event.account_id}_${event.snapshot}"
//     would give account a with snapshot b_c the schema of account a_b with
//     snapshot c. The schema is then quoted as an identifier, and one
//     longer than PostgreSQL's 63 bytes fails the export (forEvent).
//   - table queries: event values appear only inside quote_literal() or
//     quote_ident(), applied last, so that they can only ever be a value or
//     a name.

// eventField returns the field a traversal reads from the event, if it is
// exactly event.NAME.
func eventField(t hcl.Traversal) (string, bool) {
	if t.RootName() != "event" || len(t) != 2 {
		return "", false
	}
	a, ok := t[1].(hcl.TraverseAttr)
	return a.Name, ok
}

// eventRefs lists the traversals of expr that read the event.
func eventRefs(expr hcl.Expression) []hcl.Traversal {
	var out []hcl.Traversal
	for _, t := range expr.Variables() {
		if t.RootName() == "event" {
			out = append(out, t)
		}
	}
	return out
}

// idChar reports whether c may appear in an id (see event.ValidID).
func idChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func separates(s string) bool {
	for i := 0; i < len(s); i++ {
		if !idChar(s[i]) {
			return true
		}
	}
	return false
}

// checkSchema checks how the schema expression uses the event (see above).
func checkSchema(expr hcl.Expression) hcl.Diagnostics {
	var parts []hcl.Expression
	switch e := expr.(type) {
	case *hclsyntax.TemplateExpr:
		for _, p := range e.Parts {
			parts = append(parts, p)
		}
	case *hclsyntax.TemplateWrapExpr:
		parts = []hcl.Expression{e.Wrapped}
	default:
		parts = []hcl.Expression{expr}
	}
	var diags hcl.Diagnostics
	previous := "" // the last event field interpolated
	separated := false
	for _, p := range parts {
		if lit, ok := p.(*hclsyntax.LiteralValueExpr); ok && lit.Val.Type() == cty.String && lit.Val.IsKnown() && !lit.Val.IsNull() {
			separated = separated || separates(lit.Val.AsString())
			continue
		}
		if st, ok := p.(*hclsyntax.ScopeTraversalExpr); ok {
			if field, ok := eventField(st.Traversal); ok {
				if previous != "" && !separated {
					diags = append(diags, errorAt(st.Range(), "Ambiguous schema",
						fmt.Sprintf("event.%s follows event.%s with nothing between them that an id cannot hold, so two accounts could get one schema "+
							`(with "acct_${event.account_id}_${event.snapshot}", account a with snapshot b_c and account a_b with snapshot c both read acct_a_b_c). `+
							`Separate them with a character such as ".": "acct_${event.account_id}.${event.snapshot}".`, field, previous)))
				}
				previous, separated = field, false
				continue
			}
		}
		for _, t := range eventRefs(p) {
			diags = append(diags, errorAt(t.SourceRange(), "Event value in schema through an expression",
				`In schema, event values appear only as ${event.NAME}, kept as they are: a function of them (lower(), replace(), …) could give two accounts one schema. `+
					"The schema is quoted as a name already."))
		}
	}
	return diags
}

// checkQuery checks that event values reach a table's query only through
// the quoting functions (see above).
func checkQuery(table string, expr hcl.Expression) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, t := range rawEventRefs(expr) {
		name := strings.TrimPrefix(traversalText(t), "event.")
		diags = append(diags, errorAt(t.SourceRange(), "Unquoted event value in a query",
			fmt.Sprintf("event.%s reaches the query of table %q as raw SQL. Wrap it in quote_literal() for a value or quote_ident() for a name, "+
				"outside any other function: WHERE account = ${quote_literal(event.%s)}.", name, table, name)))
	}
	return diags
}

// rawEventRefs returns the event traversals of expr whose values reach its
// text without going through a quoting function last.
func rawEventRefs(expr hcl.Expression) []hcl.Traversal {
	switch e := expr.(type) {
	case *hclsyntax.TemplateExpr:
		var out []hcl.Traversal
		for _, p := range e.Parts {
			out = append(out, rawEventRefs(p)...)
		}
		return out
	case *hclsyntax.TemplateWrapExpr:
		return rawEventRefs(e.Wrapped)
	case *hclsyntax.ParenthesesExpr:
		return rawEventRefs(e.Expression)
	case *hclsyntax.ConditionalExpr:
		// The condition only chooses a branch; its value is not text.
		return append(rawEventRefs(e.TrueResult), rawEventRefs(e.FalseResult)...)
	case *hclsyntax.FunctionCallExpr:
		if _, quoting := quotingFunctions[e.Name]; quoting {
			return nil
		}
	}
	return eventRefs(expr)
}

func traversalText(t hcl.Traversal) string {
	var b strings.Builder
	b.WriteString(t.RootName())
	for _, s := range t[1:] {
		switch s := s.(type) {
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		default:
			b.WriteString("[…]")
		}
	}
	return b.String()
}

// checkEvent refuses an event whose values do not follow the rules the
// checks above rely on. Decoders refuse such events already; this keeps
// the rules true whichever way an event reached the source (a queued
// re-export, the export command).
func checkEvent(ev *event.ModellingCompleted) error {
	switch {
	case !event.ValidID(ev.AccountID):
		return permanentf("account id %.80q is not a valid id", ev.AccountID)
	case !event.ValidID(ev.RunID):
		return permanentf("run id %.80q is not a valid id", ev.RunID)
	case !event.ValidSnapshot(ev.Snapshot):
		return permanentf("snapshot %.80q is not a valid reference", ev.Snapshot)
	}
	return nil
}
