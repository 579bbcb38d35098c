package job

import (
	"slices"

	"github.com/exportd/exportd/internal/parquetw"
	"github.com/exportd/exportd/internal/state"
	"github.com/exportd/exportd/sdk"
)

// recordFile remembers a finished file for the file lists of the Commit
// manifests, with which a destination can describe its dump (a manifest
// of keys, sizes and digests) without reading anything back.
func (e *export) recordFile(f parquetw.File) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.files == nil {
		e.files = map[string][]sdk.ManifestFile{}
	}
	e.files[f.Table] = append(e.files[f.Table], sdk.ManifestFile{Index: f.Index, Size: f.Size, Rows: f.Rows, SHA256: f.SHA256})
}

// tableManifest is a delivered table's entry in a Commit manifest: its
// totals, its parquet schema and every file in index order.
func (e *export) tableManifest(s parquetw.Summary) sdk.TableManifest {
	tm := sdk.TableManifest{Name: s.Table, Files: s.Files, Rows: s.Rows, Bytes: s.Bytes}
	for _, t := range e.tables {
		if t.Name == s.Table {
			for _, c := range t.Columns {
				tm.Columns = append(tm.Columns, sdk.Column{Name: c.Name, Type: parquetw.TypeName(c)})
			}
		}
	}
	e.mu.Lock()
	tm.FileList = slices.Clone(e.files[s.Table])
	e.mu.Unlock()
	slices.SortFunc(tm.FileList, func(a, b sdk.ManifestFile) int { return a.Index - b.Index })
	return tm
}

// maxIntentFiles bounds the file entries a commit intent keeps (about a
// hundred bytes each) so that it stays well within a KV value's limit
// (1 MiB by default). A dump with more files keeps none in its intent: a
// recommit of it cannot describe its files again, and a destination that
// writes a manifest leaves the one the crashed attempt wrote.
const maxIntentFiles = 4000

// intentManifest is the manifest a commit intent records.
func intentManifest(m sdk.Manifest) []state.ManifestTable {
	out := stateManifest(m)
	n := 0
	for _, t := range m.Tables {
		n += len(t.FileList)
	}
	if n > maxIntentFiles {
		for i := range out {
			out[i].Columns, out[i].FileList = nil, nil
		}
	}
	return out
}
