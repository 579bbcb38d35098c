// Package localfs is the localfs destination: it writes the exact layout
// and receipt of the AWS S3 Legacy destination (see package
// sdk/legacylayout) into a local folder. It is exportd's embedded default
// destination and the worked example for plugin authors: everything a
// destination must do, and nothing else.
//
// Files are written under a hidden temporary name in their final folder,
// checked against the SHA-256 the daemon sent, synced, and renamed into
// place, so a reader never sees a partial file; the receipt is written the
// same way, last.
package localfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// Version is the plugin's version, reported in its schema.
const Version = "1.0.0"

// Plugin serves localfs destinations.
type Plugin struct{}

var _ sdk.Plugin = Plugin{}

// Schema describes the attributes of a localfs destination.
func (Plugin) Schema() sdk.Schema {
	return sdk.Schema{
		Name:    "localfs",
		Version: Version,
		Attributes: []sdk.Attribute{
			{Name: "path", Type: sdk.TypeString, Required: true,
				Description: "Directory that plays the bucket. Created if missing; relative paths are taken from the daemon's working directory."},
			{Name: "folder", Type: sdk.TypeString,
				Description: "Optional prefix inside path under which receipt.json and the dump folders are written."},
			{Name: "fsync", Type: sdk.TypeBool,
				Description: "Sync every file and directory to disk before reporting it delivered (default true)."},
		},
	}
}

// Configure validates a destination's configuration. It touches nothing on
// disk; Check does.
func (Plugin) Configure(_ context.Context, d sdk.DestinationInfo, cfg sdk.Config) (sdk.Destination, error) {
	path := cfg.String("path")
	if path == "" {
		return nil, sdk.ConfigError("path", errors.New("must not be empty"))
	}
	root, err := filepath.Abs(path)
	if err != nil {
		return nil, sdk.ConfigError("path", err)
	}
	folder, err := legacylayout.NormalizeFolder(cfg.String("folder"))
	if err != nil {
		return nil, sdk.ConfigError("folder", err)
	}
	return &destination{
		name:   d.Name,
		root:   root,
		layout: legacylayout.Layout{Folder: folder},
		fsync:  cfg.Bool("fsync", true),
	}, nil
}

type destination struct {
	name   string
	root   string
	layout legacylayout.Layout
	fsync  bool
}

var _ sdk.Destination = (*destination)(nil)

// path maps a key of the layout to a path under the root.
func (d *destination) path(key string) string {
	return filepath.Join(d.root, filepath.FromSlash(key))
}

// Check makes sure the root exists and is writable.
func (d *destination) Check(context.Context) (string, error) {
	if err := os.MkdirAll(d.root, 0o755); err != nil {
		return "", sdk.ConfigError("path", fmt.Errorf("create %s: %w", d.root, err))
	}
	f, err := os.CreateTemp(d.root, ".exportd-check-*")
	if err != nil {
		return "", sdk.ConfigError("path", fmt.Errorf("%s is not writable: %w", d.root, err))
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return fmt.Sprintf("directory %s is writable", d.root), nil
}

// Begin starts an export. T must fall in a later minute than the previous
// dump's, so that no two dumps share a folder.
func (d *destination) Begin(_ context.Context, info sdk.ExportInfo) (sdk.Export, error) {
	if !info.PreviousTime.IsZero() && !info.Time.Truncate(time.Minute).After(info.PreviousTime.Truncate(time.Minute)) {
		return nil, sdk.Permanent(fmt.Errorf("export time %s is not in a later minute than the previous dump's %s",
			info.Time.Format(legacylayout.TimestampFormat), info.PreviousTime.Format(legacylayout.TimestampFormat)))
	}
	return &export{d: d, info: info}, nil
}
