package sdk

import (
	"bytes"
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
	case len(t.FileList) > 0 && len(t.FileList) != t.Files:
		return fmt.Errorf("carried table %s: the manifest lists %d files but counts %d", t.Name, len(t.FileList), t.Files)
	case !t.Carried.Truncate(time.Minute).Before(g.at.Truncate(time.Minute)):
		return fmt.Errorf("carried table %s comes from the dump of %s, which is not in an earlier minute than this export's %s",
			t.Name, t.Carried.UTC().Format(time.RFC3339Nano), g.at.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// checkFileList checks a table's file list, when the manifest has one:
// one entry per file, indexes 0 to Files-1 in order, sizes and rows that
// add up to the table's, and, unless the export is a recommit (whose
// files an earlier attempt delivered), the size, rows and digest of the
// file that was Put under each index.
func checkFileList(t TableManifest, delivered map[int]File, recommit bool) error {
	if len(t.FileList) == 0 {
		return nil
	}
	if len(t.FileList) != t.Files {
		return fmt.Errorf("table %s: the manifest lists %d files but counts %d", t.Name, len(t.FileList), t.Files)
	}
	var rows, size int64
	for i, f := range t.FileList {
		if f.Index != i {
			return fmt.Errorf("table %s: file list entry %d has index %d", t.Name, i, f.Index)
		}
		rows, size = rows+f.Rows, size+f.Size
		if recommit {
			continue
		}
		put, ok := delivered[i]
		if ok && (put.Size != f.Size || put.Rows != f.Rows || !bytes.Equal(put.SHA256, f.SHA256)) {
			return fmt.Errorf("table %s: file %d was Put with %d bytes, %d rows and SHA-256 %x, but the manifest lists %d bytes, %d rows and %x",
				t.Name, i, put.Size, put.Rows, put.SHA256, f.Size, f.Rows, f.SHA256)
		}
	}
	if rows != t.Rows || size != t.Bytes {
		return fmt.Errorf("table %s: the file list adds up to %d rows and %d bytes, the manifest says %d and %d", t.Name, rows, size, t.Rows, t.Bytes)
	}
	return nil
}
