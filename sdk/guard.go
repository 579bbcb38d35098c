package sdk

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// guardedExport wraps a plugin's Export and enforces, whatever the plugin
// does, that no dump is committed unless every file named by the manifest
// was Put successfully, that nothing happens after Commit or Abort, and
// that Abort never runs while a Commit is in flight.
type guardedExport struct {
	inner  Export
	tables map[string]bool
	// finish is held by a Commit in flight and by Abort. An Abort that
	// arrives during a Commit (the daemon gave up waiting for it) waits for
	// it to end and then decides: a committed dump is left alone, since its
	// receipt may already name its files.
	finish chan struct{}
	// at and recommit are the export's time and recommit flag, from
	// ExportInfo (see checkCarried and Put).
	at       time.Time
	recommit bool

	mu        sync.Mutex
	delivered map[string]map[int]File
	done      bool // committed or aborted
}

func newGuardedExport(inner Export, tables []string) *guardedExport {
	g := &guardedExport{
		inner:     inner,
		tables:    map[string]bool{},
		finish:    make(chan struct{}, 1),
		delivered: map[string]map[int]File{},
	}
	for _, t := range tables {
		g.tables[t] = true
		g.delivered[t] = map[int]File{}
	}
	return g
}

var errExportFinished = Permanent(errors.New("export is already committed or aborted"))

func (g *guardedExport) Put(ctx context.Context, f File) error {
	if !g.tables[f.Table] {
		return Permanent(fmt.Errorf("file for table %q, which is not part of this export", f.Table))
	}
	if f.Index < 0 {
		return Permanent(fmt.Errorf("table %s: negative file index %d", f.Table, f.Index))
	}
	if g.recommit {
		return errRecommitPut
	}
	g.mu.Lock()
	done := g.done
	g.mu.Unlock()
	if done {
		return errExportFinished
	}
	if err := g.inner.Put(ctx, f); err != nil {
		return err
	}
	g.mu.Lock()
	g.delivered[f.Table][f.Index] = f
	g.mu.Unlock()
	return nil
}

// lockFinish waits until no Commit or Abort is in flight.
func (g *guardedExport) lockFinish(ctx context.Context) error {
	select {
	case g.finish <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *guardedExport) unlockFinish() { <-g.finish }

func (g *guardedExport) Commit(ctx context.Context, m Manifest) (Receipt, error) {
	if err := g.lockFinish(ctx); err != nil {
		return Receipt{}, err
	}
	defer g.unlockFinish()
	g.mu.Lock()
	if g.done {
		g.mu.Unlock()
		return Receipt{}, errExportFinished
	}
	err := g.checkManifest(m)
	g.mu.Unlock()
	if err != nil {
		return Receipt{}, Permanent(fmt.Errorf("commit refused: %w", err))
	}
	rc, err := g.inner.Commit(ctx, m)
	if err != nil {
		return Receipt{}, err
	}
	g.mu.Lock()
	g.done = true
	g.mu.Unlock()
	return rc, nil
}

// checkManifest reports how m differs from what was delivered. g.mu is held.
func (g *guardedExport) checkManifest(m Manifest) error {
	named := map[string]bool{}
	for _, t := range m.Tables {
		if named[t.Name] {
			return fmt.Errorf("manifest names table %q twice", t.Name)
		}
		named[t.Name] = true
		if !t.Carried.IsZero() {
			if err := g.checkCarried(t); err != nil {
				return err
			}
			continue
		}
		if !g.tables[t.Name] {
			return fmt.Errorf("manifest names table %q, which is not part of this export", t.Name)
		}
		if t.Files < 1 {
			return fmt.Errorf("table %s has no files (an empty table still has one)", t.Name)
		}
		if err := checkFileList(t, g.delivered[t.Name], g.recommit); err != nil {
			return err
		}
		if g.recommit {
			continue // an earlier attempt delivered the files
		}
		got := g.delivered[t.Name]
		for i := 0; i < t.Files; i++ {
			if _, ok := got[i]; !ok {
				return fmt.Errorf("table %s: file %d of %d was never delivered", t.Name, i, t.Files)
			}
		}
		if len(got) != t.Files {
			return fmt.Errorf("table %s: %d files delivered but the manifest names %d", t.Name, len(got), t.Files)
		}
	}
	var missing []string
	for t := range g.tables {
		if !named[t] {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("manifest omits tables %v", missing)
	}
	return nil
}

func (g *guardedExport) Abort(ctx context.Context) error {
	if err := g.lockFinish(ctx); err != nil {
		return err
	}
	defer g.unlockFinish()
	g.mu.Lock()
	if g.done {
		g.mu.Unlock()
		return nil
	}
	g.done = true
	g.mu.Unlock()
	return g.inner.Abort(ctx)
}
