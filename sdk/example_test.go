package sdk_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/destinationtest"
	"github.com/exportd/exportd/sdk/host"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// folderPlugin is a complete destination plugin: it delivers dumps into a
// folder on the local disk, in the S3 Legacy layout. A binary named
// exportd-plugin-folder would serve it from its main function:
//
//	func main() {
//		debug := flag.Bool("debug", false, "run standalone for a debugger")
//		flag.Parse()
//		sdk.Serve(folderPlugin{}, sdk.WithDebug(*debug))
//	}
type folderPlugin struct{}

var _ sdk.Plugin = folderPlugin{}

// Schema declares the attributes, with what the SDK checks for the
// plugin: path is required and only the operator may set it; durability
// takes one of two values and defaults to "sync"; buffer_kib is a whole
// number from 4 to 1024. The plugin takes files of up to 1 GiB, and the
// daemon sizes them so.
func (folderPlugin) Schema() sdk.Schema {
	return sdk.Schema{
		Name:    "folder",
		Version: "1.0.0",
		Attributes: []sdk.Attribute{
			{Name: "path", Type: sdk.TypeString, Required: true, OperatorOnly: true,
				Description: "Directory the dumps go into."},
			{Name: "folder", Type: sdk.TypeString,
				Description: "Prefix inside path for receipt.json and the dump folders."},
			{Name: "durability", Type: sdk.TypeString, Default: "sync", Enum: []string{"sync", "none"},
				Description: "Whether every file is synced to disk before it counts as delivered."},
			{Name: "buffer_kib", Type: sdk.TypeInteger, Default: 64, Min: sdk.Bound(4), Max: sdk.Bound(1024),
				Description: "Size of the copy buffer, in KiB."},
		},
		Capabilities: sdk.Capabilities{MaxObjectSize: 1 << 30},
	}
}

// Configure checks what the schema cannot say. The SDK has checked the
// rest and filled in the defaults.
func (folderPlugin) Configure(_ context.Context, info sdk.DestinationInfo, cfg sdk.Config) (sdk.Destination, error) {
	folder, err := legacylayout.NormalizeFolder(cfg.String("folder"))
	if err != nil {
		return nil, sdk.ConfigError("folder", err)
	}
	return &folderDestination{
		root:   cfg.String("path"),
		layout: legacylayout.Layout{Folder: folder},
		sync:   cfg.String("durability") == "sync",
		buffer: cfg.Int("buffer_kib", 0) << 10,
		log:    info.Logger,
	}, nil
}

type folderDestination struct {
	root     string
	layout   legacylayout.Layout
	sync     bool
	buffer   int
	log      *slog.Logger
	receipts legacylayout.ReceiptGate
}

// Check proves that the directory can be written.
func (d *folderDestination) Check(context.Context) (string, error) {
	if err := os.MkdirAll(d.root, 0o750); err != nil {
		return "", sdk.ConfigError("path", err)
	}
	return "directory " + d.root + " is writable", nil
}

// Begin starts an export. The SDK has checked its time and tables.
func (d *folderDestination) Begin(_ context.Context, info sdk.ExportInfo) (sdk.Export, error) {
	if err := d.layout.CheckTables(info.Time, info.Tables); err != nil {
		return nil, sdk.Permanent(err)
	}
	return &folderExport{d: d, info: info}, nil
}

type folderExport struct {
	d    *folderDestination
	info sdk.ExportInfo
}

// Put copies a spool file, once its digest is verified, to its key.
func (e *folderExport) Put(ctx context.Context, f sdk.File) error {
	src, err := sdk.OpenVerified(ctx, f)
	if err != nil {
		return err
	}
	defer src.Close()
	return e.d.write(e.d.layout.FileKey(e.info.Time, f.Table, f.Index), src)
}

// Commit writes the receipt, unless a later dump's is already written.
// The SDK has checked that every file of the manifest was Put.
func (e *folderExport) Commit(ctx context.Context, m sdk.Manifest) (sdk.Receipt, error) {
	body := e.d.layout.NewReceipt(e.info.Time, m).Marshal()
	key := e.d.layout.ReceiptKey()
	err := e.d.receipts.Write(ctx, e.info.Time, func(context.Context) error {
		return e.d.write(key, bytes.NewReader(body))
	})
	if err != nil {
		return sdk.Receipt{}, err
	}
	e.d.log.Info("dump committed", "tables", len(m.Tables))
	return sdk.Receipt{Location: filepath.Join(e.d.root, key), Body: body}, nil
}

// Abort leaves the files for the operator: no receipt names them.
func (e *folderExport) Abort(context.Context) error { return nil }

// write stores r at key, through a temporary file renamed into place.
func (d *folderDestination) write(key string, r io.Reader) error {
	path := filepath.Join(d.root, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return sdk.Retryable(err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".partial-*")
	if err != nil {
		return sdk.Retryable(err)
	}
	defer os.Remove(tmp.Name())
	_, err = io.CopyBuffer(tmp, r, make([]byte, d.buffer))
	if err == nil && d.sync {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	return sdk.Retryable(err)
}

// Example shows a complete plugin, served here from the example's own
// process (host.Start) as the daemon would run its binary: the SDK refuses
// a value outside the schema before the plugin sees it, and an export of
// two tables ends with the receipt the layout prescribes.
func Example() {
	ctx := context.Background()
	plugin, err := host.Start(ctx, folderPlugin{}, nil)
	if err != nil {
		panic(err)
	}
	defer plugin.Kill()
	dir, _ := os.MkdirTemp("", "folder-example-")
	defer os.RemoveAll(dir)
	spool, _ := os.MkdirTemp("", "folder-example-spool-")
	defer os.RemoveAll(spool)

	_, err = plugin.Configure(ctx, sdk.DestinationInfo{Name: "acme"},
		sdk.NewConfig(map[string]any{"path": dir, "durability": "maybe"}))
	fmt.Println("refused:", err)

	dest, err := plugin.Configure(ctx, sdk.DestinationInfo{Name: "acme", Account: "acme"},
		sdk.NewConfig(map[string]any{"path": dir, "folder": "dumps"}))
	if err != nil {
		panic(err)
	}
	at := time.Date(2024, 3, 14, 4, 3, 7, 963883000, time.UTC)
	dump, err := destinationtest.NewDump(spool, at, map[string]int{"companies": 2, "events": 1})
	if err != nil {
		panic(err)
	}
	receipt, err := dump.Export(ctx, dest)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(receipt.Body))
	// Output:
	// refused: durability: "maybe" is not one of "sync", "none"
	// {
	//   "timestamp": "2024-03-14T04:03:07.963883Z",
	//   "tables": {
	//     "companies": {
	//       "folder": "dumps/2024-03-14T04:03/companies",
	//       "total_file_count": 2
	//     },
	//     "events": {
	//       "folder": "dumps/2024-03-14T04:03/events",
	//       "total_file_count": 1
	//     }
	//   }
	// }
}
