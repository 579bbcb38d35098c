package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/parquetw"
	"github.com/exportd/exportd/internal/pluginhost"
	"github.com/exportd/exportd/internal/source/sample"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// launchLocalfs starts the real localfs plugin and configures destinations
// writing under t.TempDir(), returning them by name with their roots.
func launchLocalfs(t *testing.T, names ...string) (map[string]sdk.Destination, map[string]string) {
	t.Helper()
	ctx := context.Background()
	h := pluginhost.New(nil, pluginhost.Options{Dir: testsupport.PluginDir(t, "localfs")})
	t.Cleanup(h.Close)
	if err := h.Launch(ctx, []string{"localfs"}); err != nil {
		t.Fatal(err)
	}
	dests, roots := map[string]sdk.Destination{}, map[string]string{}
	for _, n := range names {
		roots[n] = t.TempDir()
		d, err := h.Configure(ctx, sdk.DestinationInfo{Name: n, Account: "acme"}, "localfs", sdk.NewConfig(map[string]any{"path": roots[n]}))
		if err != nil {
			t.Fatal(err)
		}
		dests[n] = d
	}
	return dests, roots
}

// observer counts what the runner reports.
type observer struct {
	encoded   atomic.Int64
	rows      atomic.Int64
	mu        sync.Mutex
	delivered map[string]int
}

func (o *observer) TableStarted(string, string)           {}
func (o *observer) RowsEncoded(_, _ string, n int64)      { o.rows.Add(n) }
func (o *observer) FileEncoded(string, parquetw.File)     { o.encoded.Add(1) }
func (o *observer) TableEncoded(string, parquetw.Summary) {}
func (o *observer) FileDelivered(_ string, d string, _ parquetw.File, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.delivered == nil {
		o.delivered = map[string]int{}
	}
	o.delivered[d]++
}

func newRunner(t *testing.T, rows map[string]int64, obs Observer) (*Runner, string) {
	t.Helper()
	src, err := sample.New(sample.Config{Rows: rows})
	if err != nil {
		t.Fatal(err)
	}
	spool := t.TempDir()
	return &Runner{
		Source:           src,
		SpoolDir:         spool,
		Parquet:          parquetw.Options{TargetFileSize: 64 << 10, RowGroupRows: 500},
		TableParallelism: 2,
		PutConcurrency:   3,
		MaxSpooledFiles:  2,
		Observer:         obs,
	}, spool
}

var smallRows = map[string]int64{"companies": 300, "contacts": 2000, "events": 6000, "revenue": 0, "revenue_attribution": 0, "paid_ads": 60}

func TestRunnerEncodesOnceAndDeliversToEveryDestination(t *testing.T) {
	obs := &observer{}
	r, spool := newRunner(t, smallRows, obs)
	dests, roots := launchLocalfs(t, "a", "b")
	at := time.Date(2024, 2, 3, 4, 5, 6, 789012000, time.UTC)
	outcomes := r.Run(context.Background(), Job{
		ID:    "j1",
		Event: event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: at},
		Targets: []Target{
			{Name: "a", Destination: dests["a"], Time: at},
			{Name: "b", Destination: dests["b"], Time: at, Tables: []string{"events", "revenue"}},
		},
	})
	for _, o := range outcomes {
		if o.Err != nil {
			t.Fatalf("%s: %v", o.Destination, o.Err)
		}
	}
	// Every file was encoded once and delivered to each destination that wants its table.
	var total, bFiles int
	for _, s := range outcomes[0].Tables {
		total += s.Files
	}
	for _, s := range outcomes[1].Tables {
		bFiles += s.Files
	}
	if int(obs.encoded.Load()) != total {
		t.Fatalf("encoded %d files, a got %d", obs.encoded.Load(), total)
	}
	if obs.delivered["a"] != total || obs.delivered["b"] != bFiles {
		t.Fatalf("delivered %v, want a=%d b=%d", obs.delivered, total, bFiles)
	}
	if obs.rows.Load() != 8360 {
		t.Fatalf("observed %d rows", obs.rows.Load())
	}
	if total <= 6 {
		t.Fatalf("expected rotation into several files, got %d", total)
	}

	// Receipts list exactly the tables each destination asked for.
	for name, want := range map[string][]string{
		"a": {"companies", "contacts", "events", "paid_ads", "revenue", "revenue_attribution"},
		"b": {"events", "revenue"},
	} {
		b, err := os.ReadFile(filepath.Join(roots[name], "receipt.json"))
		if err != nil {
			t.Fatal(err)
		}
		rc, ts, err := legacylayout.ParseReceipt(b)
		if err != nil || !ts.Equal(at) {
			t.Fatalf("%s receipt %s: %v", name, b, err)
		}
		var got []string
		for tab, e := range rc.Tables {
			got = append(got, tab)
			files, _ := filepath.Glob(filepath.Join(roots[name], e.Folder, "*.parquet.gz"))
			if len(files) != e.TotalFileCount {
				t.Errorf("%s/%s: %d files on disk, receipt says %d", name, tab, len(files), e.TotalFileCount)
			}
		}
		sort.Strings(got)
		if js, _ := json.Marshal(got); string(js) != mustJSON(want) {
			t.Errorf("%s receipt tables %v, want %v", name, got, want)
		}
	}
	assertEmpty(t, spool)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// assertEmpty fails unless the spool holds no file but the small ones
// kept for the next exports' writers to reuse (parquetw.Recycle), in the
// directories the runner keeps for them.
func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !parquetw.IsRecycled(d.Name()) || info.Size() > 256<<10 {
			files = append(files, fmt.Sprintf("%s (%d bytes)", path, info.Size()))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 0 {
		t.Fatalf("spool %s not cleaned: %v", dir, files)
	}
}

// failingDestination accepts Begin and then fails every Put.
type failingDestination struct{ err error }

func (f failingDestination) Check(context.Context) (string, error) { return "ok", nil }
func (f failingDestination) Begin(context.Context, sdk.ExportInfo) (sdk.Export, error) {
	return &failingExport{err: f.err}, nil
}

type failingExport struct {
	err     error
	aborted atomic.Bool
}

func (f *failingExport) Put(context.Context, sdk.File) error { return f.err }
func (f *failingExport) Commit(context.Context, sdk.Manifest) (sdk.Receipt, error) {
	return sdk.Receipt{}, errors.New("must not be called")
}
func (f *failingExport) Abort(context.Context) error { f.aborted.Store(true); return nil }

func TestRunnerOneDestinationFailingDoesNotFailOthers(t *testing.T) {
	r, spool := newRunner(t, smallRows, nil)
	dests, roots := launchLocalfs(t, "good")
	at := time.Now().UTC()
	outcomes := r.Run(context.Background(), Job{
		ID:    "j2",
		Event: event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: at},
		Targets: []Target{
			{Name: "bad", Destination: failingDestination{err: sdk.Permanent(errors.New("access denied"))}, Time: at},
			{Name: "good", Destination: dests["good"], Time: at},
		},
	})
	if sdk.KindOf(outcomes[0].Err) != sdk.KindPermanent {
		t.Fatalf("bad: %v", outcomes[0].Err)
	}
	if outcomes[1].Err != nil {
		t.Fatalf("good: %v", outcomes[1].Err)
	}
	if _, err := os.Stat(filepath.Join(roots["good"], "receipt.json")); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, spool)
}

func TestRunnerSourceFailureCommitsNothing(t *testing.T) {
	r, spool := newRunner(t, smallRows, nil)
	dests, roots := launchLocalfs(t, "a")
	at := time.Now().UTC()
	outcomes := r.Run(context.Background(), Job{
		ID:      "j3",
		Event:   event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: at},
		Tables:  []string{"companies", "no_such_table"},
		Targets: []Target{{Name: "a", Destination: dests["a"], Time: at}},
	})
	if outcomes[0].Err == nil {
		t.Fatal("export of an unknown table succeeded")
	}
	if _, err := os.Stat(filepath.Join(roots["a"], "receipt.json")); !os.IsNotExist(err) {
		t.Fatalf("receipt written after a failure: %v", err)
	}
	assertEmpty(t, spool)
}

func TestRunnerCancelledCommitsNothing(t *testing.T) {
	r, spool := newRunner(t, map[string]int64{"events": 200000}, nil)
	dests, roots := launchLocalfs(t, "a")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	at := time.Now().UTC()
	outcomes := r.Run(ctx, Job{
		ID:      "j4",
		Event:   event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: at},
		Tables:  []string{"events"},
		Targets: []Target{{Name: "a", Destination: dests["a"], Time: at}},
	})
	if !sdk.IsRetryable(outcomes[0].Err) {
		t.Fatalf("cancelled export: %v, want a retryable error", outcomes[0].Err)
	}
	if _, err := os.Stat(filepath.Join(roots["a"], "receipt.json")); !os.IsNotExist(err) {
		t.Fatal("receipt written by a cancelled export")
	}
	assertEmpty(t, spool)
}
