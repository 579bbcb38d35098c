package s3legacy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/exportd/exportd/internal/parquetw"
	"github.com/exportd/exportd/internal/source/sample"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/destinationtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testsupport.StopSharedMoto()
	os.Exit(code)
}

// testPlugin is a plugin whose retries wait milliseconds, logging into
// the test, optionally acting with static credentials instead of a role.
func testPlugin(t testing.TB, creds aws.CredentialsProvider) *Plugin {
	return &Plugin{
		tune: func(tu *tuning) {
			tu.retry.Base, tu.retry.Throttled, tu.retry.Max = time.Millisecond, 5*time.Millisecond, 20*time.Millisecond
			tu.credentials = creds
		},
	}
}

// configure builds an in-process destination, logging into the test.
func configure(t testing.TB, p *Plugin, cfg map[string]any) *destination {
	t.Helper()
	return configureLogged(t, p, cfg, nil)
}

// configureLogged builds an in-process destination logging to log (nil:
// into the test).
func configureLogged(t testing.TB, p *Plugin, cfg map[string]any, log *slog.Logger) *destination {
	t.Helper()
	d, err := destinationtest.Configure(testContext(t), t, p, sdk.DestinationInfo{Name: "acme", Account: "acme", Logger: log}, cfg)
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return d.(*destination)
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// spoolFile is a file as the daemon hands it to Put, with its bytes.
type spoolFile struct {
	sdk.File
	data []byte
}

func writeSpool(t testing.TB, dir, table string, index int, data []byte) spoolFile {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("%s-%d.parquet.gz", table, index))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return spoolFile{File: sdk.File{Table: table, Index: index, Path: path, Size: int64(len(data)), Rows: 1, SHA256: sum[:]}, data: data}
}

// exportTime is a fresh export time in UTC with microseconds.
func exportTime() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// dump is an export's worth of real parquet files, encoded by the daemon's
// own writers from the sample source.
type dump struct {
	info   sdk.ExportInfo
	tables map[string][]spoolFile
}

// encodeDump encodes the six sample tables at scale into parquet files of
// about targetSize bytes each, as the daemon does before delivery.
func encodeDump(t *testing.T, at time.Time, scale float64, targetSize int64) dump {
	t.Helper()
	ctx := testContext(t)
	snap, err := sample.NewSnapshot(sample.Config{Seed: 3, Scale: scale}, "acme", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	d := dump{
		info:   sdk.ExportInfo{ID: fmt.Sprintf("export-%d", at.UnixNano()), Account: "acme", RunID: "run-" + at.Format("150405"), Time: at},
		tables: map[string][]spoolFile{},
	}
	dir := t.TempDir()
	for _, table := range snap.Tables() {
		d.info.Tables = append(d.info.Tables, table.Name)
		w, err := parquetw.NewTableWriter(ctx, dir, table, parquetw.Options{TargetFileSize: targetSize},
			func(_ context.Context, f parquetw.File) error {
				data, err := os.ReadFile(f.Path)
				if err != nil {
					return err
				}
				d.tables[f.Table] = append(d.tables[f.Table], spoolFile{
					File: sdk.File{Table: f.Table, Index: f.Index, Path: f.Path, Size: f.Size, Rows: f.Rows, SHA256: f.SHA256},
					data: data,
				})
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		if err := snap.ReadTable(ctx, table.Name, w); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
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

func (d dump) files() []spoolFile {
	var all []spoolFile
	for _, name := range d.info.Tables {
		all = append(all, d.tables[name]...)
	}
	return all
}

func (d dump) bytes() int64 {
	var n int64
	for _, f := range d.files() {
		n += f.Size
	}
	return n
}

// exportDump runs a whole export of dm to d, as the daemon does (Begin,
// concurrent Puts, Commit), failing the test on any error.
func exportDump(ctx context.Context, t *testing.T, d sdk.Destination, dm dump) sdk.Receipt {
	t.Helper()
	exp, err := d.Begin(ctx, dm.info)
	if err != nil {
		t.Fatal(err)
	}
	if err := putAll(ctx, exp, dm); err != nil {
		t.Fatal(err)
	}
	rc, err := exp.Commit(ctx, dm.manifest())
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// putAll puts every file of d concurrently, as the daemon does.
func putAll(ctx context.Context, exp sdk.Export, d dump) error {
	var wg sync.WaitGroup
	files := d.files()
	errs := make([]error, len(files))
	for i, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := exp.Put(ctx, f.File); err != nil {
				errs[i] = fmt.Errorf("put %s #%d: %w", f.Table, f.Index, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
