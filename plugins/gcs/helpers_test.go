package gcs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/destinationtest"
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

// testPlugin is a plugin whose retries wait milliseconds.
func testPlugin() *Plugin {
	return &Plugin{
		tune: func(tu *tuning) {
			tu.retry.Base, tu.retry.Throttled, tu.retry.Max = time.Millisecond, 5*time.Millisecond, 20*time.Millisecond
		},
	}
}

// configure builds an in-process destination with the platform's key as
// the process's default credentials, logging into the test.
func (w *world) configure(t testing.TB, cfg map[string]any) (*destination, error) {
	t.Helper()
	for _, kv := range w.platformEnv() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	d, err := destinationtest.Configure(testContext(t), t, testPlugin(), sdk.DestinationInfo{Name: "acme", Account: "acme"}, cfg)
	if err != nil {
		return nil, err
	}
	return d.(*destination), nil
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// dump is an export's worth of spool files.
type dump = destinationtest.Dump

func newDump(t testing.TB, at time.Time, counts map[string]int) dump {
	t.Helper()
	d, err := destinationtest.NewDump(t.TempDir(), at, counts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// exportDump runs Begin, concurrent Puts and Commit, as the daemon does.
func exportDump(ctx context.Context, d sdk.Destination, dm dump) (sdk.Receipt, error) {
	return dm.Export(ctx, d)
}

func exportTime() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
