package destinationtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/host"
)

type suite struct {
	h      Harness
	client *host.Client
	seq    atomic.Int64
}

type testCase struct {
	name string
	run  func(t *testing.T, s *suite)
}

var cases = []testCase{
	{"Schema", testSchema},
	{"UnknownAttributeRefused", testUnknownAttribute},
	{"InvalidConfigsRefused", testInvalidConfigs},
	{"Check", testCheck},
	{"FullExport", testFullExport},
	{"LaterDumpReplacesReceipt", testLaterDump},
	{"AbortPublishesNothing", testAbort},
	{"IncompleteCommitRefused", testIncompleteCommit},
	{"ChecksumMismatchRefused", testChecksumMismatch},
	{"SameMinuteRefused", testSameMinute},
	{"CancelledPut", testCancelledPut},
	{"RecommitAfterCommit", testRecommitAfterCommit},
	{"RecommitBeforeCommit", testRecommitBeforeCommit},
	{"RecommitNeverGoesBack", testRecommitNeverGoesBack},
	{"CarriedTables", testCarriedTables},
}

func (s *suite) launch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := host.Launch(ctx, host.LaunchConfig{
		Path:   s.h.Binary,
		Env:    s.h.Env,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("launch plugin: %v", err)
	}
	t.Cleanup(c.Kill)
	s.client = c
}

// testWriter sends log lines to the test log while the test runs.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // logging after the test ended
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// destination configures a fresh destination under a unique name.
func (s *suite) destination(t *testing.T) (sdk.Destination, Inspector) {
	t.Helper()
	cfg, in := s.h.New(t)
	name := fmt.Sprintf("conformance-%d", s.seq.Add(1))
	d, err := s.client.Configure(ctxFor(t), sdk.DestinationInfo{Name: name, Account: "conformance"}, sdk.NewConfig(cfg))
	if err != nil {
		t.Fatalf("Configure(%s): %v", name, err)
	}
	return d, in
}

// spoolFile is a file handed to Put, with what it should contain.
type spoolFile struct {
	sdk.File
	data []byte
}

// makeFiles writes count files of a table into dir, of varied sizes.
func makeFiles(t *testing.T, dir, table string, count int) []spoolFile {
	t.Helper()
	sizes := []int{1, 4096, 1 << 20, 300, 65537}
	out := make([]spoolFile, count)
	for i := range out {
		data := make([]byte, sizes[i%len(sizes)])
		_, _ = rand.Read(data)
		path := filepath.Join(dir, fmt.Sprintf("%s-%d.bin", table, i))
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		out[i] = spoolFile{
			File: sdk.File{Table: table, Index: i, Path: path, Size: int64(len(data)), Rows: int64(i + 1), SHA256: sum[:]},
			data: data,
		}
	}
	return out
}

// dump is one export's worth of files.
type dump struct {
	info   sdk.ExportInfo
	tables map[string][]spoolFile
}

func newDump(t *testing.T, at time.Time, counts map[string]int, order []string) dump {
	dir := t.TempDir()
	d := dump{
		info: sdk.ExportInfo{
			ID:      fmt.Sprintf("conformance-%d", at.UnixNano()),
			Account: "conformance",
			RunID:   fmt.Sprintf("run-%d", at.Unix()),
			Time:    at,
			Tables:  order,
		},
		tables: map[string][]spoolFile{},
	}
	for _, name := range order {
		d.tables[name] = makeFiles(t, dir, name, counts[name])
	}
	return d
}

func (d dump) manifest() sdk.Manifest {
	var m sdk.Manifest
	for _, name := range d.info.Tables {
		tm := sdk.TableManifest{Name: name, Files: len(d.tables[name])}
		for _, f := range d.tables[name] {
			tm.Rows += f.Rows
			tm.Bytes += f.Size
		}
		m.Tables = append(m.Tables, tm)
	}
	return m
}

// putAll puts every file of d concurrently.
func putAll(ctx context.Context, exp sdk.Export, d dump) error {
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for _, files := range d.tables {
		for _, f := range files {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := exp.Put(ctx, f.File); err != nil {
					errs <- fmt.Errorf("put %s #%d: %w", f.Table, f.Index, err)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	return errors.Join(collect(errs)...)
}

func collect(ch <-chan error) []error {
	var out []error
	for err := range ch {
		out = append(out, err)
	}
	return out
}

// exportTime is a fresh export time, well apart from other subtests'.
func exportTime() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}

func requireKind(t *testing.T, err error, want sdk.ErrorKind, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want a %v error", what, want)
	}
	if got := sdk.KindOf(err); got != want {
		t.Fatalf("%s: error kind %v, want %v (error: %v)", what, got, want, err)
	}
}

func requireNoReceipt(t *testing.T, in Inspector, what string) {
	t.Helper()
	rc, err := in.Receipt(ctxFor(t))
	if err != nil {
		t.Fatalf("%s: read receipt: %v", what, err)
	}
	if rc != nil {
		t.Fatalf("%s: a receipt is visible:\n%s", what, rc)
	}
}

func requireDelivered(t *testing.T, in Inspector, d dump) {
	t.Helper()
	ctx := ctxFor(t)
	for _, name := range d.info.Tables {
		for _, f := range d.tables[name] {
			got, err := in.File(ctx, d.info, name, f.Index)
			if err != nil {
				t.Fatalf("read back %s #%d: %v", name, f.Index, err)
			}
			if !bytes.Equal(got, f.data) {
				t.Fatalf("%s #%d: delivered %d bytes differ from the %d put", name, f.Index, len(got), len(f.data))
			}
		}
	}
}

func requireSpoolUntouched(t *testing.T, d dump) {
	t.Helper()
	for _, files := range d.tables {
		for _, f := range files {
			got, err := os.ReadFile(f.Path)
			if err != nil {
				t.Fatalf("spool file %s: %v (a plugin must not remove spool files)", f.Path, err)
			}
			if !bytes.Equal(got, f.data) {
				t.Fatalf("spool file %s was modified", f.Path)
			}
		}
	}
}

func requireAbsent(t *testing.T, in Inspector, info sdk.ExportInfo, table string, index int) {
	t.Helper()
	_, err := in.File(ctxFor(t), info, table, index)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s #%d: want fs.ErrNotExist, got %v", table, index, err)
	}
}
