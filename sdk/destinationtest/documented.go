package destinationtest

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/exportd/exportd/sdk"
)

// RequireDocumented fails the test unless doc, a plugin's documentation
// in Markdown, has a table row for every attribute of s (its first cell
// names the attribute in backticks) that says what the schema declares:
// "required" for a required attribute, the default with the word
// "default", every allowed value, the range's bounds, and "operator" for
// an operator-only attribute. The schema is what the SDK enforces; this
// keeps the words beside it true.
func RequireDocumented(t testing.TB, doc string, s sdk.Schema) {
	t.Helper()
	for _, a := range s.Attributes {
		row := regexp.MustCompile("(?m)^\\|[^|\\n]*`" + regexp.QuoteMeta(a.Name) + "`[^|\\n]*\\|.*$").FindString(doc)
		if row == "" {
			t.Errorf("attribute %s has no row in the documentation's table", a.Name)
			continue
		}
		lower := strings.ToLower(row)
		var want []string
		if a.Required {
			want = append(want, "yes")
		}
		if a.Default != nil {
			want = append(want, "default")
			if v := defaultWords(a.Default); v != "" {
				want = append(want, v)
			}
		}
		want = append(want, a.Enum...)
		for _, b := range []*float64{a.Min, a.Max} {
			if b != nil {
				want = append(want, strconv.FormatFloat(*b, 'f', -1, 64))
			}
		}
		if a.OperatorOnly {
			want = append(want, "operator")
		}
		for _, w := range want {
			if !strings.Contains(lower, strings.ToLower(w)) {
				t.Errorf("the row of %s does not say %q (the schema declares it):\n%s", a.Name, w, row)
			}
		}
	}
}

// defaultWords is how a default shows in prose, or "" for lists and maps.
func defaultWords(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}
