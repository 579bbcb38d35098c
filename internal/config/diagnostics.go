package config

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Sensitive, as a diagnostic's Extra, says that its subject holds a secret
// (a token, a DSN with a password): WriteDiagnostics then shows where it
// is, not the line itself.
type Sensitive struct{}

// MarkSensitive marks diags as Sensitive and returns them.
func MarkSensitive(diags hcl.Diagnostics) hcl.Diagnostics {
	for _, d := range diags {
		d.Extra = Sensitive{}
	}
	return diags
}

// WriteDiagnostics prints diagnostics as compilers do, one per block:
//
//	exportd.hcl:8:3: error: Unsupported argument
//	  An argument named "foldr" is not expected here. Did you mean "folder"?
//	      8 |   foldr   = "x"
//	        |   ^^^^^
//
// files maps file names to their parsed sources, for the excerpt.
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) {
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		where := "exportd"
		if d.Subject != nil && d.Subject.Filename != "" {
			where = fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		fmt.Fprintf(w, "%s: %s: %s\n", where, sev, d.Summary)
		if d.Detail != "" {
			for _, line := range strings.Split(d.Detail, "\n") {
				fmt.Fprintf(w, "  %s\n", line)
			}
		}
		if _, secret := d.Extra.(Sensitive); d.Subject != nil && !secret {
			writeExcerpt(w, files[d.Subject.Filename], *d.Subject)
		}
	}
}

// writeExcerpt prints the subject's first line with a marker under it.
func writeExcerpt(w io.Writer, f *hcl.File, rng hcl.Range) {
	if f == nil || rng.Start.Line < 1 {
		return
	}
	lines := bytes.Split(f.Bytes, []byte("\n"))
	if rng.Start.Line > len(lines) {
		return
	}
	line := string(lines[rng.Start.Line-1])
	width := 1
	if rng.End.Line == rng.Start.Line && rng.End.Column > rng.Start.Column {
		width = rng.End.Column - rng.Start.Column
	}
	pad := strings.Map(func(r rune) rune {
		if r == '\t' {
			return '\t'
		}
		return ' '
	}, prefixRunes(line, rng.Start.Column-1))
	fmt.Fprintf(w, "  %5d | %s\n", rng.Start.Line, line)
	fmt.Fprintf(w, "        | %s%s\n", pad, strings.Repeat("^", width))
}

// prefixRunes returns the first n characters of s (columns count
// characters in HCL).
func prefixRunes(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}
