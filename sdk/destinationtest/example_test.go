package destinationtest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/exportd/exportd/plugins/localfs"
	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/destinationtest"
	"github.com/exportd/exportd/sdk/host"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// diskInspector reads a localfs destination back from disk, as its
// consumers would: what a Harness's New returns beside the configuration.
type diskInspector struct {
	root   string
	layout legacylayout.Layout
}

func (in diskInspector) Receipt(context.Context) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(in.root, filepath.FromSlash(in.layout.ReceiptKey())))
	if os.IsNotExist(err) {
		return nil, nil
	}
	return b, err
}

func (in diskInspector) File(_ context.Context, info sdk.ExportInfo, table string, index int) ([]byte, error) {
	return os.ReadFile(filepath.Join(in.root, filepath.FromSlash(in.layout.FileKey(info.Time, table, index))))
}

// Example drives the localfs plugin with the package's helpers, as the
// conformance suite does: the plugin served in-process, a fresh
// destination, a dump exported as the daemon exports it, and what
// consumers see read back through an Inspector. A plugin's conformance
// test hands the same parts to Run (plugins/localfs/localfs_test.go):
//
//	func TestConformance(t *testing.T) {
//		destinationtest.Run(t, destinationtest.Harness{
//			Plugin: localfs.Plugin{}, // or Binary: the plugin built by the test
//			New: func(t *testing.T) (map[string]any, destinationtest.Inspector) {
//				root := t.TempDir()
//				return map[string]any{"path": root}, diskInspector{root: root}
//			},
//		})
//	}
func Example() {
	ctx := context.Background()
	plugin, err := host.Start(ctx, localfs.Plugin{}, nil)
	if err != nil {
		panic(err)
	}
	defer plugin.Kill()
	root, _ := os.MkdirTemp("", "destinationtest-example-")
	defer os.RemoveAll(root)
	spool, _ := os.MkdirTemp("", "destinationtest-spool-")
	defer os.RemoveAll(spool)
	dest, err := plugin.Configure(ctx, sdk.DestinationInfo{Name: "acme", Account: "acme"}, sdk.NewConfig(map[string]any{"path": root}))
	if err != nil {
		panic(err)
	}
	in := diskInspector{root: root}

	at := time.Date(2024, 3, 14, 4, 3, 7, 0, time.UTC)
	dump, err := destinationtest.NewDump(spool, at, map[string]int{"companies": 3, "events": 2})
	if err != nil {
		panic(err)
	}
	if _, err := dump.Export(ctx, dest); err != nil {
		panic(err)
	}
	for _, f := range dump.Files() {
		got, err := in.File(ctx, dump.Info, f.Table, f.Index)
		fmt.Printf("%s #%d: %d bytes, delivered intact: %t\n", f.Table, f.Index, f.Size, err == nil && bytes.Equal(got, f.Data))
	}
	receipt, _ := in.Receipt(ctx)
	r, _, _ := legacylayout.ParseReceipt(receipt)
	fmt.Println("receipt:", r.Timestamp, r.Tables["companies"], r.Tables["events"])
	// Output:
	// companies #0: 1 bytes, delivered intact: true
	// companies #1: 4096 bytes, delivered intact: true
	// companies #2: 1048576 bytes, delivered intact: true
	// events #0: 1 bytes, delivered intact: true
	// events #1: 4096 bytes, delivered intact: true
	// receipt: 2024-03-14T04:03:07.000000Z {2024-03-14T04:03/companies 3} {2024-03-14T04:03/events 2}
}
