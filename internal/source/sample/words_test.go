package sample

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestWordsNeedNoEscaping checks what the JSON builder assumes: words
// written inside JSON strings or URLs contain nothing to escape.
func TestWordsNeedNoEscaping(t *testing.T) {
	lists := map[string][]string{
		"emailSubjects": emailSubjects, "webinarTitles": webinarTitles, "meetingTypes": meetingTypes,
		"browsers": browsers, "operatingSystems": operatingSystems, "devices": devices,
		"formIDs": formIDs, "campaignThemes": campaignThemes, "regions": regions,
		"campaignTypes": campaignTypes, "platformUTMSource": platformUTMSource,
		"emailSources": emailSources,
	}
	for _, p := range append(append(pages, demoPage, signupPage, contactPage), resourcePage...) {
		lists["pages"] = append(lists["pages"], p.path, p.title)
	}
	for name, list := range lists {
		for _, w := range list {
			// JSON requires escaping quotes, backslashes and control
			// characters, nothing else.
			if strings.ContainsFunc(w, func(r rune) bool { return r == '"' || r == '\\' || r < 0x20 }) || !utf8.ValidString(w) {
				t.Errorf("%s: %q needs escaping in JSON", name, w)
			}
		}
	}
	for _, p := range pages {
		if strings.ContainsAny(p.path, " ?&#%\"") {
			t.Errorf("path %q needs escaping in a URL", p.path)
		}
	}
}

func TestWeighted(t *testing.T) {
	c := weighted(1, 0, 3)
	counts := make([]int, 3)
	for _, k := range c.table {
		counts[k]++
	}
	if counts[0] != 256 || counts[1] != 0 || counts[2] != 768 {
		t.Errorf("slots %v, want [256 0 768]", counts)
	}
}

func TestPermutation(t *testing.T) {
	for _, n := range []uint64{1, 2, 3, 10, 97, 1000, 4096} {
		p := newPermutation(n, 12345)
		seen := make([]bool, n)
		for x := range n {
			y := p.at(x)
			if y >= n || seen[y] {
				t.Fatalf("n=%d: at(%d) = %d repeats or is out of range", n, x, y)
			}
			seen[y] = true
			if p.inverse(y) != x {
				t.Fatalf("n=%d: inverse(at(%d)) = %d", n, x, p.inverse(y))
			}
		}
	}
}
