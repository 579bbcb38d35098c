package job

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// TestSpoolDirsAreReused: an export's spool directory, left empty, serves
// the next export; one left holding files is removed with them.
func TestSpoolDirsAreReused(t *testing.T) {
	root := t.TempDir()
	var s spoolDirs
	log := slog.New(slog.DiscardHandler)
	a, err := s.take(root)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.take(root)
	if err != nil || b == a {
		t.Fatalf("two exports at once share %s (%v)", a, err)
	}
	s.give(a, log)
	if again, _ := s.take(root); again != a {
		t.Fatalf("an empty directory was not reused: got %s, want %s", again, a)
	}
	if err := os.WriteFile(filepath.Join(b, "events_000000000000.parquet.gz"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.give(b, log)
	if _, err := os.Stat(b); !os.IsNotExist(err) {
		t.Fatalf("a directory left with a file was kept: %v", err)
	}
	if c, _ := s.take(root); c == b {
		t.Fatal("a removed directory was handed out")
	}
}
