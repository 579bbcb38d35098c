package sample

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/digests.txt")

// TestDigests pins the generated data: a digest of every table at a small
// scale, for two accounts. Rows must not change by accident (another
// platform, another Go version, a refactoring), as saved demo queries and
// tests elsewhere rely on them. A deliberate change is recorded with
// go test -run TestDigests -update.
func TestDigests(t *testing.T) {
	var got strings.Builder
	for _, account := range []string{"acme", "globex"} {
		snap := mustSnapshot(t, Config{Seed: 1, Scale: 0.25}, account)
		for _, s := range snap.Tables() {
			h := sha256.New()
			rows := readAll(t, snap, s.Name)
			for _, row := range rows {
				fmt.Fprintf(h, "%#v\n", row)
			}
			fmt.Fprintf(&got, "%s %s %d %x\n", account, s.Name, len(rows), h.Sum(nil))
		}
	}
	path := filepath.Join("testdata", "digests.txt")
	if *update {
		if err := os.WriteFile(path, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("generated data changed (go test -run TestDigests -update records a deliberate change)\n got:\n%s\nwant:\n%s", got.String(), want)
	}
}
