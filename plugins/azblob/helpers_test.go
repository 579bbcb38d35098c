package azblob

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// writeOnly is the customer guide's SAS: create and write, nothing else.
var writeOnly = sas.ContainerPermissions{Create: true, Write: true}

// config is a destination configuration for a container of Azurite's
// development account with a SAS token, plus extra attributes (nil
// removes one).
func config(a *testsupport.Azurite, containerName, token string, extra map[string]any) map[string]any {
	cfg := map[string]any{
		"storage_account": testsupport.AzuriteAccount,
		"container":       containerName,
		"folder":          "dumps",
		"sas_token":       token,
		"endpoint":        a.Endpoint,
	}
	for k, v := range extra {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	return cfg
}

// inspector reads a container back with the account key.
type inspector struct {
	a         *testsupport.Azurite
	container string
	layout    legacylayout.Layout
}

func (in inspector) Receipt(ctx context.Context) ([]byte, error) {
	b, err := in.a.Blob(ctx, in.container, in.layout.ReceiptKey())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func (in inspector) File(ctx context.Context, info sdk.ExportInfo, table string, index int) ([]byte, error) {
	return in.a.Blob(ctx, in.container, in.layout.FileKey(info.Time, table, index))
}

// testPlugin is a plugin whose retries wait milliseconds, logging into the test.
func testPlugin(t testing.TB) *Plugin {
	return &Plugin{
		Logger: slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		tune: func(tu *tuning) {
			tu.baseDelay, tu.maxBackoff, tu.tryTimeout = time.Millisecond, 20*time.Millisecond, 30*time.Second
		},
	}
}

// configure builds an in-process destination.
func configure(t testing.TB, cfg map[string]any) (*destination, error) {
	t.Helper()
	p := testPlugin(t)
	schema := p.Schema()
	if err := schema.Check(sdk.NewConfig(cfg)); err != nil {
		return nil, err
	}
	d, err := p.Configure(testContext(t), sdk.DestinationInfo{Name: "acme", Account: "acme"}, sdk.NewConfig(cfg))
	if err != nil {
		return nil, err
	}
	return d.(*destination), nil
}

type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // a log line after the test ended
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// dump is an export's worth of spool files.
type dump struct {
	info  sdk.ExportInfo
	files []spoolFile
}

type spoolFile struct {
	sdk.File
	data []byte
}

// newDump writes count files per table, of varied sizes.
func newDump(t testing.TB, at time.Time, counts map[string]int) dump {
	t.Helper()
	dir := t.TempDir()
	d := dump{info: sdk.ExportInfo{ID: fmt.Sprintf("export-%d", at.UnixNano()), Account: "acme", RunID: "run-" + at.Format("150405.000000"), Time: at}}
	sizes := []int{300, 70 << 10, 1, 3 << 20}
	for table, n := range counts {
		d.info.Tables = append(d.info.Tables, table)
		for i := range n {
			data := []byte(strings.Repeat(fmt.Sprintf("%s-%d-", table, i), sizes[i%len(sizes)]/8+1))[:sizes[i%len(sizes)]]
			path := filepath.Join(dir, fmt.Sprintf("%s-%d", table, i))
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			d.files = append(d.files, spoolFile{File: sdk.File{Table: table, Index: i, Path: path, Size: int64(len(data)), Rows: 1, SHA256: sum[:]}, data: data})
		}
	}
	return d
}

func (d dump) manifest() sdk.Manifest {
	var m sdk.Manifest
	for _, table := range d.info.Tables {
		tm := sdk.TableManifest{Name: table}
		for _, f := range d.files {
			if f.Table == table {
				tm.Files++
				tm.Rows += f.Rows
				tm.Bytes += f.Size
			}
		}
		m.Tables = append(m.Tables, tm)
	}
	return m
}

// exportDump runs Begin, concurrent Puts and Commit, as the daemon does.
func exportDump(ctx context.Context, d sdk.Destination, dm dump) (sdk.Receipt, error) {
	exp, err := d.Begin(ctx, dm.info)
	if err != nil {
		return sdk.Receipt{}, err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(dm.files))
	for i, f := range dm.files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = exp.Put(ctx, f.File)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		_ = exp.Abort(ctx)
		return sdk.Receipt{}, err
	}
	return exp.Commit(ctx, dm.manifest())
}

func exportTime() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func requireConfigError(t *testing.T, err error, attr, contains string) {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded, want a configuration error naming %q", attr)
	}
	if sdk.KindOf(err) != sdk.KindConfiguration || sdk.AttributeOf(err) != attr {
		t.Fatalf("error kind %v attribute %q, want configuration error naming %q: %v", sdk.KindOf(err), sdk.AttributeOf(err), attr, err)
	}
	if !strings.Contains(err.Error(), contains) {
		t.Fatalf("error does not say %q: %v", contains, err)
	}
}
