package azblob

import (
	"context"
	"errors"
	"io/fs"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/destinationtest"
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

// testPlugin is a plugin whose retries wait milliseconds.
func testPlugin() *Plugin {
	return &Plugin{
		tune: func(tu *tuning) {
			tu.baseDelay, tu.maxBackoff, tu.tryTimeout = time.Millisecond, 20*time.Millisecond, 30*time.Second
		},
	}
}

// configure builds an in-process destination, logging into the test.
func configure(t testing.TB, cfg map[string]any) (*destination, error) {
	t.Helper()
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
