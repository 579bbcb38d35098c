package sdk_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestReadmeLinks: every file the SDK's guide points to exists, so that
// the walkthrough never sends a reader to code that moved.
func TestReadmeLinks(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	links := regexp.MustCompile(`\]\(([^)#]+\.(?:go|proto|md))\)`).FindAllStringSubmatch(string(b), -1)
	if len(links) < 8 {
		t.Fatalf("%d links to files; the guide's walkthrough points to more", len(links))
	}
	for _, l := range links {
		if _, err := os.Stat(filepath.FromSlash(l[1])); err != nil {
			t.Errorf("the guide links to %s: %v", l[1], err)
		}
	}
}
