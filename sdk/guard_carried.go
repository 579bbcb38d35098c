package sdk

import (
	"errors"
	"fmt"
	"time"
)

var errRecommitPut = Permanent(errors.New("a recommit delivers no files: they were delivered by an earlier attempt"))

// checkCarried checks a table that the manifest carries over from an
// earlier dump instead of delivering it: it must not be one of the
// export's own tables, must have files, and its dump must lie in an
// earlier minute than this export's, so that the receipt names only
// folders that were complete before it.
func (g *guardedExport) checkCarried(t TableManifest) error {
	switch {
	case g.tables[t.Name]:
		return fmt.Errorf("manifest carries table %q over from an earlier dump, but this export delivers it", t.Name)
	case t.Files < 1:
		return fmt.Errorf("carried table %s has no files (an empty table still has one)", t.Name)
	case !t.Carried.Truncate(time.Minute).Before(g.at.Truncate(time.Minute)):
		return fmt.Errorf("carried table %s comes from the dump of %s, which is not in an earlier minute than this export's %s",
			t.Name, t.Carried.UTC().Format(time.RFC3339Nano), g.at.UTC().Format(time.RFC3339Nano))
	}
	return nil
}
