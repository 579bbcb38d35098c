package gcs

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// world is a Google Cloud of one platform and its customers: the
// platform's own service account (its key is the daemon's Application
// Default Credentials) and, per customer, a bucket and a service account
// the platform may impersonate, with exactly the customer guide's grants.
type world struct {
	g        *testsupport.GCS
	platform testsupport.GCSServiceAccount
	seq      atomic.Int64
}

func newWorld(t testing.TB) *world {
	g := testsupport.StartGCS(t)
	return &world{g: g, platform: g.NewServiceAccount(t, "exportd@platform-project.iam.gserviceaccount.com")}
}

// customer is one customer's setup.
type customer struct {
	Bucket         string
	Folder         string
	ServiceAccount string
}

// customerOptions leaves out parts of the customer guide's setup.
type customerOptions struct {
	NoImpersonation bool // the platform may not impersonate the account
	NoCreate        bool // the account lacks storage.objects.create
	NoReceiptDelete bool // the account may not replace receipt.json
}

func (w *world) newCustomer(t testing.TB, o customerOptions) customer {
	n := w.seq.Add(1)
	c := customer{
		Bucket: fmt.Sprintf("acme-dumps-%d", n),
		Folder: "dumps",
	}
	sa := w.g.NewServiceAccount(t, fmt.Sprintf("platform-export-%d@acme-project.iam.gserviceaccount.com", n))
	c.ServiceAccount = sa.Email
	w.g.CreateBucket(c.Bucket)
	if !o.NoImpersonation {
		w.g.AllowImpersonation(w.platform.Email, sa.Email)
	}
	if !o.NoCreate {
		w.g.Grant(sa.Email, c.Bucket, "storage.objects.create")
	}
	if !o.NoReceiptDelete {
		w.g.GrantOnObject(sa.Email, c.Bucket, c.Folder+"/receipt.json", "storage.objects.delete")
	}
	return c
}

// config is the destination configuration for c, with extra attributes.
func (w *world) config(c customer, extra map[string]any) map[string]any {
	cfg := map[string]any{
		"bucket":                      c.Bucket,
		"folder":                      c.Folder,
		"impersonate_service_account": c.ServiceAccount,
		"endpoint":                    w.g.URL,
		"iam_credentials_endpoint":    w.g.URL,
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

// platformEnv makes the platform's key the process's Application Default
// Credentials.
func (w *world) platformEnv() []string {
	return []string{"GOOGLE_APPLICATION_CREDENTIALS=" + w.platform.KeyFile}
}

// inspector reads a customer's bucket back with the emulator's own access.
type inspector struct {
	g      *testsupport.GCS
	bucket string
	layout legacylayout.Layout
}

func (in inspector) Receipt(context.Context) ([]byte, error) {
	b, err := in.g.Object(in.bucket, in.layout.ReceiptKey())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func (in inspector) File(_ context.Context, info sdk.ExportInfo, table string, index int) ([]byte, error) {
	return in.g.Object(in.bucket, in.layout.FileKey(info.Time, table, index))
}

// testPlugin is a plugin whose retries wait milliseconds, logging into the test.
func testPlugin(t testing.TB) *Plugin {
	return &Plugin{
		Logger: slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		tune: func(tu *tuning) {
			tu.baseDelay, tu.throttleDelay, tu.maxBackoff = time.Millisecond, 5*time.Millisecond, 20*time.Millisecond
		},
	}
}

// configure builds an in-process destination with the platform's key as
// the process's default credentials.
func (w *world) configure(t testing.TB, cfg map[string]any) (*destination, error) {
	t.Helper()
	for _, kv := range w.platformEnv() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
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

// newDump writes count files per table of varied sizes, one of them empty
// tables' size (a parquet file with no rows is small but never empty).
func newDump(t testing.TB, at time.Time, counts map[string]int) dump {
	t.Helper()
	dir := t.TempDir()
	d := dump{info: sdk.ExportInfo{ID: fmt.Sprintf("export-%d", at.UnixNano()), Account: "acme", RunID: "run-" + at.Format("150405.000000"), Time: at}}
	sizes := []int{300, 70 << 10, 1, 5 << 20}
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
