package service

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/exportd/exportd/internal/job"
)

// ExportNow exports an account at once to its destinations (or the named
// ones), without the event stream. Export times and leases go through the
// same shared state as the daemon's: with embedded NATS, the running
// daemon's, reached through its listen address, or an embedded server of
// its own when no daemon holds the data directory. observer, when set, is
// told about progress.
func (s *Service) ExportNow(ctx context.Context, account string, dests []string, observer job.Observer) ([]job.Outcome, error) {
	c, err := s.connect(ctx, "exportd export", true)
	if err != nil {
		return nil, err
	}
	defer c.close()
	// Registered destinations too: the registry's are read once.
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if _, err := s.watchRegistry(wctx, c); err != nil {
		return nil, err
	}
	spool := filepath.Join(s.Config.DataDir, "spool", fmt.Sprintf("export-%d", os.Getpid()))
	defer os.RemoveAll(spool)
	e, _ := s.engine(c, spool)
	if observer != nil {
		e.Runner.Observer = observer
	}
	e.Bus, e.Progress = nil, nil // one-shot exports publish nothing
	return e.ExportNow(ctx, account, dests)
}
