package job

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/exportd/exportd/internal/parquetw"
)

// spoolDirs hands out the spool directories of exports and keeps those
// that exports left clean for the next ones: on ext4, creating a
// directory (which must find a block group for it) cost a small export
// more CPU than everything else it asks of the kernel.
type spoolDirs struct {
	mu   sync.Mutex
	free []string
	made int
}

// keptSpoolDirs bounds the directories kept: about as many as exports run
// at once. Each holds at most a small file per table (parquetw.Recycle).
const keptSpoolDirs = 32

// take returns an empty directory below root.
func (s *spoolDirs) take(root string) (string, error) {
	s.mu.Lock()
	if n := len(s.free); n > 0 {
		dir := s.free[n-1]
		s.free = s.free[:n-1]
		s.mu.Unlock()
		return dir, nil
	}
	s.made++
	dir := filepath.Join(root, "export-"+strconv.Itoa(s.made))
	s.mu.Unlock()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("create spool directory: %w", err)
	}
	return dir, nil
}

// give takes a directory back once its export is over: kept when the
// export left in it only the files that the next export's writers reuse
// (parquetw.Recycle), and removed with whatever it holds otherwise.
func (s *spoolDirs) give(dir string, log *slog.Logger) {
	if reusable(dir) {
		s.mu.Lock()
		if len(s.free) < keptSpoolDirs {
			s.free = append(s.free, dir)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
	if err := os.RemoveAll(dir); err != nil {
		log.Error("removing the spool directory failed", "dir", dir, "error", err)
	}
}

func reusable(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return false
	}
	for _, n := range names {
		if !parquetw.IsRecycled(n) {
			return false
		}
	}
	return true
}
