package destinationtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/exportd/exportd/sdk"
)

// Dump is one export's worth of spool files, as the daemon hands them to a
// destination.
type Dump struct {
	Info sdk.ExportInfo
	// Tables holds each table's files, in index order.
	Tables map[string][]SpoolFile
}

// SpoolFile is a file handed to Put, with the bytes it holds.
type SpoolFile struct {
	sdk.File
	Data []byte
}

// spoolSizes are the sizes of the files NewDump writes, in turn: tiny,
// a page, a MiB, odd sizes across buffer boundaries.
var spoolSizes = []int{1, 4096, 1 << 20, 300, 65537}

// NewDump writes, into dir, counts[table] files of random bytes for each
// table, and returns the dump of them exported at at, its tables in name
// order. Its ID and run id are derived from at.
func NewDump(dir string, at time.Time, counts map[string]int) (Dump, error) {
	tables := make([]string, 0, len(counts))
	for name := range counts {
		tables = append(tables, name)
	}
	sort.Strings(tables)
	d := Dump{
		Info: sdk.ExportInfo{
			ID:      fmt.Sprintf("conformance-%d", at.UnixNano()),
			Account: "conformance",
			RunID:   fmt.Sprintf("run-%d", at.Unix()),
			Time:    at,
			Tables:  tables,
		},
		Tables: map[string][]SpoolFile{},
	}
	for _, name := range tables {
		for i := range counts[name] {
			data := make([]byte, spoolSizes[i%len(spoolSizes)])
			_, _ = rand.Read(data)
			path := filepath.Join(dir, fmt.Sprintf("%s-%d-%d.bin", name, at.UnixNano(), i))
			if err := os.WriteFile(path, data, 0o600); err != nil {
				return Dump{}, err
			}
			sum := sha256.Sum256(data)
			d.Tables[name] = append(d.Tables[name], SpoolFile{
				File: sdk.File{Table: name, Index: i, Path: path, Size: int64(len(data)), Rows: int64(i + 1), SHA256: sum[:]},
				Data: data,
			})
		}
	}
	return d, nil
}

// Files returns every file of the dump, table by table.
func (d Dump) Files() []SpoolFile {
	var all []SpoolFile
	for _, name := range d.Info.Tables {
		all = append(all, d.Tables[name]...)
	}
	return all
}

// Manifest is the dump's manifest as the daemon sends it at Commit, with
// each table's file list and a parquet schema (made up: the files hold
// random bytes) of one column.
func (d Dump) Manifest() sdk.Manifest {
	var m sdk.Manifest
	for _, name := range d.Info.Tables {
		tm := sdk.TableManifest{Name: name, Files: len(d.Tables[name]), Columns: []sdk.Column{{Name: "id", Type: "INT64"}}}
		for _, f := range d.Tables[name] {
			tm.Rows += f.Rows
			tm.Bytes += f.Size
			tm.FileList = append(tm.FileList, sdk.ManifestFile{Index: f.Index, Size: f.Size, Rows: f.Rows, SHA256: f.SHA256})
		}
		m.Tables = append(m.Tables, tm)
	}
	return m
}

// PutAll puts every file of the dump concurrently, as the daemon does, and
// returns every failure.
func (d Dump) PutAll(ctx context.Context, exp sdk.Export) error {
	files := d.Files()
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Go(func() {
			if err := exp.Put(ctx, f.File); err != nil {
				errs[i] = fmt.Errorf("put %s #%d: %w", f.Table, f.Index, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Export runs a whole export of the dump to dest, as the daemon does:
// Begin, concurrent Puts, Commit, and Abort if anything failed.
func (d Dump) Export(ctx context.Context, dest sdk.Destination) (sdk.Receipt, error) {
	exp, err := dest.Begin(ctx, d.Info)
	if err != nil {
		return sdk.Receipt{}, fmt.Errorf("begin: %w", err)
	}
	rc, err := d.finish(ctx, exp)
	if err != nil {
		_ = exp.Abort(context.WithoutCancel(ctx))
	}
	return rc, err
}

func (d Dump) finish(ctx context.Context, exp sdk.Export) (sdk.Receipt, error) {
	if err := d.PutAll(ctx, exp); err != nil {
		return sdk.Receipt{}, err
	}
	rc, err := exp.Commit(ctx, d.Manifest())
	if err != nil {
		return sdk.Receipt{}, fmt.Errorf("commit: %w", err)
	}
	return rc, nil
}
