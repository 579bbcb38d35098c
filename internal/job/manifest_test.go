package job

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/parquetw"
	"github.com/exportd/exportd/internal/schema"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/state"
	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// recordingDestination accepts every file and records what the runner
// told it; it declares a max object size as pluginhost's destinations do.
type recordingDestination struct {
	limit int64

	mu        sync.Mutex
	infos     []sdk.ExportInfo
	puts      []sdk.File
	manifests []sdk.Manifest
}

var _ limited = (*recordingDestination)(nil)

func (d *recordingDestination) MaxObjectSize() int64                  { return d.limit }
func (d *recordingDestination) Check(context.Context) (string, error) { return "ok", nil }

func (d *recordingDestination) Begin(_ context.Context, info sdk.ExportInfo) (sdk.Export, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.infos = append(d.infos, info)
	return recordingExport{d}, nil
}

type recordingExport struct{ d *recordingDestination }

func (e recordingExport) Put(_ context.Context, f sdk.File) error {
	e.d.mu.Lock()
	defer e.d.mu.Unlock()
	e.d.puts = append(e.d.puts, f)
	return nil
}

func (e recordingExport) Commit(_ context.Context, m sdk.Manifest) (sdk.Receipt, error) {
	e.d.mu.Lock()
	defer e.d.mu.Unlock()
	e.d.manifests = append(e.d.manifests, m)
	return sdk.Receipt{Location: "memory", Body: []byte("{}")}, nil
}

func (recordingExport) Abort(context.Context) error { return nil }

// TestManifestNamesColumnsAndFiles: each table of the Commit manifest
// carries its parquet columns and the list of its files exactly as they
// were Put, and Begin carries the daemon's version.
func TestManifestNamesColumnsAndFiles(t *testing.T) {
	r, _ := newRunner(t, smallRows, nil)
	r.ExporterVersion = "v9.8.7"
	d := &recordingDestination{}
	at := time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	out := r.Run(context.Background(), Job{ID: "j", Event: event.ModellingCompleted{AccountID: "acme", RunID: "r"},
		Targets: []Target{{Name: "d", Destination: d, Time: at}}})
	if out[0].Err != nil {
		t.Fatal(out[0].Err)
	}
	if len(d.infos) != 1 || d.infos[0].ExporterVersion != "v9.8.7" {
		t.Fatalf("Begin: %+v", d.infos)
	}
	puts := map[string][]sdk.File{}
	for _, f := range d.puts {
		puts[f.Table] = append(puts[f.Table], f)
	}
	snap, err := r.Source.Open(context.Background(), source.Request{Event: event.ModellingCompleted{AccountID: "acme", RunID: "r"}})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	tables := map[string]schema.Table{}
	for _, tb := range snap.Tables() {
		tables[tb.Name] = tb
	}
	for _, tm := range d.manifests[0].Tables {
		cols, err := parquetw.Columns(tables[tm.Name])
		if err != nil {
			t.Fatal(err)
		}
		if len(tm.Columns) != len(cols) || tm.Columns[0].Name != cols[0].Name || tm.Columns[0].Type != cols[0].Type {
			t.Errorf("%s: columns %+v, want %+v", tm.Name, tm.Columns, cols)
		}
		if len(tm.FileList) != tm.Files || len(tm.FileList) != len(puts[tm.Name]) {
			t.Fatalf("%s: %d files listed, %d counted, %d Put", tm.Name, len(tm.FileList), tm.Files, len(puts[tm.Name]))
		}
		for _, f := range puts[tm.Name] {
			l := tm.FileList[f.Index]
			if l.Index != f.Index || l.Size != f.Size || l.Rows != f.Rows || !bytes.Equal(l.SHA256, f.SHA256) {
				t.Errorf("%s file %d: listed %+v, Put %+v", tm.Name, f.Index, l, f)
			}
		}
	}
}

// TestFilesStayUnderTheSmallestLimit: with a target of 1 MiB and two
// destinations, one of which takes 48 KiB at most, every file of the job
// stays under 48 KiB, for both.
func TestFilesStayUnderTheSmallestLimit(t *testing.T) {
	r, _ := newRunner(t, map[string]int64{"events": 6000}, nil)
	r.Parquet.TargetFileSize = 1 << 20
	unlimited, small := &recordingDestination{}, &recordingDestination{limit: 48 << 10}
	at := time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	out := r.Run(context.Background(), Job{ID: "j", Event: event.ModellingCompleted{AccountID: "acme", RunID: "r"},
		Targets: []Target{
			{Name: "unlimited", Destination: unlimited, Time: at, MaxFileSize: unlimited.MaxObjectSize()},
			{Name: "small", Destination: small, Time: at, MaxFileSize: small.MaxObjectSize()},
		}})
	for _, o := range out {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
	}
	for _, d := range []*recordingDestination{unlimited, small} {
		if len(d.puts) < 2 {
			t.Fatalf("%d files; the limit should have split the table", len(d.puts))
		}
		for _, f := range d.puts {
			if f.Size > 48<<10 {
				t.Errorf("%s file %d has %d bytes, more than 48 KiB", f.Table, f.Index, f.Size)
			}
		}
	}
	if got := maxObjectSize(small); got != 48<<10 {
		t.Fatalf("maxObjectSize %d", got)
	}
}

// TestRecommitManifestKeepsColumnsAndFiles: the intent recorded before a
// Commit, stored as JSON, gives a recommit the same manifest.
func TestRecommitManifestKeepsColumnsAndFiles(t *testing.T) {
	m := sdk.Manifest{Tables: []sdk.TableManifest{
		{Name: "events", Files: 2, Rows: 5, Bytes: 30, Columns: []sdk.Column{{Name: "id", Type: "INT64"}},
			FileList: []sdk.ManifestFile{{Index: 0, Size: 10, Rows: 2, SHA256: []byte{1}}, {Index: 1, Size: 20, Rows: 3, SHA256: []byte{2}}}},
		{Name: "companies", Files: 1, Carried: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
	}}
	raw, err := json.Marshal(state.CommitIntent{Manifest: stateManifest(m)})
	if err != nil {
		t.Fatal(err)
	}
	var back state.CommitIntent
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if got := sdkManifest(back.Manifest); !reflect.DeepEqual(got, m) {
		t.Fatalf("after the state:\n%+v\nwant\n%+v", got, m)
	}
}

// limitedDestination is a destination whose plugin declares a max object
// size, as pluginhost's destinations report it.
type limitedDestination struct {
	sdk.Destination
	limit int64
}

func (d limitedDestination) MaxObjectSize() int64 { return d.limit }

// TestEngineKeepsFilesUnderTheDestinationsLimit: the engine hands the
// runner each destination's limit, and the job's files, all of them for
// both destinations, stay under the smaller.
func TestEngineKeepsFilesUnderTheDestinationsLimit(t *testing.T) {
	f := newFixture(t, "", "big", "small")
	f.e.Runner.Parquet.TargetFileSize = 1 << 20
	dests := f.e.Catalog.(fixedCatalog).dests
	dests["small"] = limitedDestination{Destination: dests["small"], limit: 48 << 10}
	ev := event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: f.clock.Now().Add(-time.Hour)}
	results := f.e.export(context.Background(), spec{jobID: "j1", event: ev, dests: []string{"big", "small"}, completion: ev.RunID, maxAttempt: 3})
	for _, r := range results {
		if r.status != StatusCommitted {
			t.Fatalf("results %+v", results)
		}
	}
	for _, dest := range []string{"big", "small"} {
		files, _ := filepath.Glob(filepath.Join(f.roots[dest], "*", "*", "*"+legacylayout.FileSuffix))
		if len(files) < 8 {
			t.Fatalf("%s: %d files; the limit should have split the bigger tables", dest, len(files))
		}
		for _, p := range files {
			if fi, err := os.Stat(p); err != nil || fi.Size() > 48<<10 {
				t.Errorf("%s: %s has %d bytes, over 48 KiB (%v)", dest, p, fi.Size(), err)
			}
		}
	}
}
