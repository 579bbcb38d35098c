package job

import (
	"slices"

	"github.com/exportd/exportd/internal/parquetw"
	"github.com/exportd/exportd/internal/schema"
	"github.com/exportd/exportd/internal/state"
	"github.com/exportd/exportd/sdk"
)

// encodedTable is what a Commit manifest says of a table the export
// encoded, beyond the counts of its summary: its parquet columns and
// every file, so that a destination can describe the dump (sizes, rows,
// digests) without reading it back, on a recommit too.
type encodedTable struct {
	columns []sdk.Column
	files   []sdk.ManifestFile
}

// recordColumns notes the parquet schema of a table about to be encoded.
func (e *export) recordColumns(t schema.Table) error {
	cols, err := parquetw.Columns(t)
	if err != nil {
		return err
	}
	rec := &encodedTable{columns: make([]sdk.Column, len(cols))}
	for i, c := range cols {
		rec.columns[i] = sdk.Column{Name: c.Name, Type: c.Type}
	}
	e.mu.Lock()
	if e.encoded == nil {
		e.encoded = map[string]*encodedTable{}
	}
	e.encoded[t.Name] = rec
	e.mu.Unlock()
	return nil
}

// recordFile notes a finished file.
func (e *export) recordFile(f parquetw.File) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if rec := e.encoded[f.Table]; rec != nil {
		rec.files = append(rec.files, sdk.ManifestFile{Index: f.Index, Size: f.Size, Rows: f.Rows, SHA256: f.SHA256})
	}
}

// manifest is the Commit manifest of a target: each of its tables as
// encoded, then the tables it carries over from earlier dumps.
func (e *export) manifest(t *target) sdk.Manifest {
	e.mu.Lock()
	defer e.mu.Unlock()
	var m sdk.Manifest
	for _, s := range t.summaries(e.summaries) {
		tm := sdk.TableManifest{Name: s.Table, Files: s.Files, Rows: s.Rows, Bytes: s.Bytes}
		if rec := e.encoded[s.Table]; rec != nil && len(rec.files) == s.Files {
			// Lanes finish files concurrently: the list goes in index order.
			files := slices.Clone(rec.files)
			slices.SortFunc(files, func(a, b sdk.ManifestFile) int { return a.Index - b.Index })
			tm.Columns, tm.FileList = rec.columns, files
		}
		m.Tables = append(m.Tables, tm)
	}
	return sdk.Manifest{Tables: append(m.Tables, t.Carried...)}
}

// parquetFor is the writers' options for a job: the configured ones, with
// no file larger than the smallest limit of the job's targets.
func (r *Runner) parquetFor(job Job) parquetw.Options {
	opts := r.Parquet
	for _, t := range job.Targets {
		if t.MaxFileSize > 0 && (opts.MaxFileSize == 0 || t.MaxFileSize < opts.MaxFileSize) {
			opts.MaxFileSize = t.MaxFileSize
		}
	}
	return opts
}

// limited is a destination that knows the largest file its plugin takes:
// pluginhost's destinations do, from the plugin's declared capabilities.
type limited interface{ MaxObjectSize() int64 }

// maxObjectSize is the largest file d takes, 0 for no limit.
func maxObjectSize(d sdk.Destination) int64 {
	if l, ok := d.(limited); ok {
		return l.MaxObjectSize()
	}
	return 0
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
