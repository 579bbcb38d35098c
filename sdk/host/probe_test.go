package host_test

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/exportd/exportd/sdk"
)

// probePlugin is a plugin whose answers show what it received: its Check
// fails as its configuration says, and its Commit returns, as the
// receipt, the export's info and manifest as it saw them. It works the
// same in-process, launched and attached.
type probePlugin struct{}

var probeSchema = sdk.Schema{
	Name:    "probe",
	Version: "0.1.0",
	Attributes: []sdk.Attribute{
		{Name: "fail", Type: sdk.TypeString, Enum: []string{"", "retryable", "permanent", "configuration", "platform"}, Default: "",
			Description: "How Check fails."},
		{Name: "token", Type: sdk.TypeString, Sensitive: true, Description: "A secret that Check's error quotes."},
		{Name: "concurrency", Type: sdk.TypeInteger, Default: 4, Min: sdk.Bound(1), Max: sdk.Bound(64), OperatorOnly: true,
			Description: "A whole number with a range."},
		{Name: "ratio", Type: sdk.TypeNumber, Min: sdk.Bound(0.5), Description: "A number with a minimum."},
		{Name: "labels", Type: sdk.TypeStringMap, Default: map[string]string{"by": "exportd"}, Description: "A map."},
	},
	Capabilities: sdk.Capabilities{MaxObjectSize: 5 << 30, CheckWrites: true},
}

func (probePlugin) Schema() sdk.Schema { return probeSchema }

func (probePlugin) Configure(_ context.Context, info sdk.DestinationInfo, cfg sdk.Config) (sdk.Destination, error) {
	if info.Logger == nil {
		return nil, errors.New("the SDK gave Configure no logger")
	}
	return &probeDestination{cfg: cfg}, nil
}

type probeDestination struct{ cfg sdk.Config }

func (d *probeDestination) Check(context.Context) (string, error) {
	err := fmt.Errorf("refused with token %s", d.cfg.String("token"))
	switch d.cfg.String("fail") {
	case "retryable":
		return "", sdk.Retryable(err)
	case "permanent":
		return "", sdk.Permanent(err)
	case "configuration":
		return "", sdk.ConfigError("token", err)
	case "platform":
		return "", sdk.PlatformError("", err)
	}
	return fmt.Sprintf("fine, concurrency %d", d.cfg.Int("concurrency", 0)), nil
}

func (d *probeDestination) Begin(_ context.Context, info sdk.ExportInfo) (sdk.Export, error) {
	return &probeExport{info: info, sums: map[string]string{}}, nil
}

type probeExport struct {
	info sdk.ExportInfo
	mu   sync.Mutex
	sums map[string]string
}

// probeReceipt is what a probe's Commit returns.
type probeReceipt struct {
	Info     sdk.ExportInfo
	Manifest sdk.Manifest
	MD5      map[string]string
}

func (e *probeExport) Put(ctx context.Context, f sdk.File) error {
	sum := md5.New()
	file, err := sdk.OpenVerified(ctx, f, sum)
	if err != nil {
		return err
	}
	defer file.Close()
	// The file is rewound: reading it again gives every byte.
	n, err := io.Copy(io.Discard, file)
	if err != nil || n != f.Size {
		return fmt.Errorf("read %d of %d bytes after OpenVerified: %v", n, f.Size, err)
	}
	e.mu.Lock()
	e.sums[fmt.Sprintf("%s/%d", f.Table, f.Index)] = fmt.Sprintf("%x", sum.Sum(nil))
	e.mu.Unlock()
	return nil
}

func (e *probeExport) Commit(_ context.Context, m sdk.Manifest) (sdk.Receipt, error) {
	body, err := json.Marshal(probeReceipt{Info: e.info, Manifest: m, MD5: e.sums})
	return sdk.Receipt{Location: "probe://" + e.info.ID, Body: body}, err
}

func (e *probeExport) Abort(context.Context) error { return nil }

// servePluginFromEnv makes the test binary a plugin when the host tests
// launch it: serving as the daemon launches it, or in debug mode.
func servePluginFromEnv() bool {
	switch os.Getenv("EXPORTD_HOST_TEST_PLUGIN") {
	case "serve":
		sdk.Serve(probePlugin{})
	case "debug":
		sdk.Serve(probePlugin{}, sdk.WithDebug(true))
	default:
		return false
	}
	return true
}
