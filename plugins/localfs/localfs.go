// Package localfs is the localfs destination: it writes the exact layout
// and receipt of the AWS S3 Legacy destination (see package
// sdk/legacylayout) into a local folder. It is exportd's embedded default
// destination and the worked example for plugin authors: everything a
// destination must do, and nothing else.
//
// Files are written under a hidden temporary name in their final folder,
// checked against the SHA-256 the daemon sent, synced, and renamed into
// place, so a reader never sees a partial file; the receipt is written the
// same way, last. Files get mode 0640 and folders 0750 unless the
// destination says otherwise, and no symbolic link below the destination's
// path is ever followed.
package localfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"

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
			{Name: "path", Type: sdk.TypeString, Required: true, OperatorOnly: true,
				Description: "Directory that plays the bucket. Created if missing; relative paths are taken from the daemon's working directory."},
			{Name: "folder", Type: sdk.TypeString,
				Description: "Optional prefix inside path under which receipt.json and the dump folders are written."},
			{Name: "fsync", Type: sdk.TypeBool, Default: true, OperatorOnly: true,
				Description: "Sync every file and directory to disk before reporting it delivered."},
			{Name: "mode", Type: sdk.TypeString, Default: "0640", OperatorOnly: true,
				Description: `Permissions of the files written, in octal; folders get the same plus search permission wherever files are readable ("0640" gives "0750"). Owner read and write are required; write for others is refused.`},
			{Name: "manifest", Type: sdk.TypeBool, Default: false,
				Description: "Also write <folder>/<T>/_manifest.json with each dump, after the data files and before the receipt: every file's key, size, rows and SHA-256, and each table's parquet schema, for loaders that verify a dump."},
		},
	}
}

// Configure validates a destination's configuration. It touches nothing on
// disk; Check does. The SDK has filled in the defaults.
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
	mode, err := parseMode(cfg.String("mode"))
	if err != nil {
		return nil, sdk.ConfigError("mode", err)
	}
	return &destination{
		name:   d.Name,
		log:    d.Logger,
		layout: legacylayout.Layout{Folder: folder},
		tree: &tree{
			root:     root,
			fileMode: mode,
			dirMode:  dirMode(mode),
			fsync:    cfg.Bool("fsync", false),
			syncDir:  syncFile,
		},
		manifest: cfg.Bool("manifest", false),
	}, nil
}

// parseMode reads the mode attribute, an octal string such as "0640" (the
// default, which keeps dumps from other users of the machine: the
// daemon's own group may read them, as a loader running beside it would).
func parseMode(s string) (os.FileMode, error) {
	v, err := strconv.ParseUint(s, 8, 32)
	switch {
	case err != nil || len(s) < 3 || len(s) > 4:
		return 0, fmt.Errorf("%q is not an octal mode such as \"0640\"", s)
	case v&^0o666 != 0:
		return 0, fmt.Errorf("%s: files are data: give read and write permissions only (no execute, setuid, setgid or sticky bits)", s)
	case v&0o600 != 0o600:
		return 0, fmt.Errorf("%s: the owner must be able to read and write the files", s)
	case v&0o002 != 0:
		return 0, fmt.Errorf("%s: files writable by every user of the machine are refused", s)
	}
	return os.FileMode(v), nil
}

// dirMode is the folders' mode for files of mode m: search permission
// wherever the files are readable.
func dirMode(m os.FileMode) os.FileMode { return m | (m&0o444)>>2 }

type destination struct {
	name   string
	log    *slog.Logger
	layout legacylayout.Layout
	tree   *tree
	// manifest: write _manifest.json with each dump.
	manifest bool
	// commitMu makes reading the previous receipt and replacing it one
	// step, so that two exports committing at once cannot leave the older
	// receipt in place.
	commitMu sync.Mutex
}

var _ sdk.Destination = (*destination)(nil)

// Check makes sure the root exists and is writable, and that no symbolic
// link stands where the configured folder goes.
func (d *destination) Check(context.Context) (string, error) {
	root := d.tree.root
	dir, err := d.tree.openRoot(true)
	if err != nil {
		return "", sdk.ConfigError("path", err)
	}
	dir.Close()
	f, err := os.CreateTemp(root, ".exportd-check-*")
	if err != nil {
		return "", sdk.ConfigError("path", fmt.Errorf("%s is not writable: %w", root, err))
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	if d.layout.Folder != "" {
		dir, err := d.tree.openDir(d.layout.Folder, false)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", sdk.ConfigError("path", err)
		}
		if dir != nil {
			dir.Close()
		}
	}
	return fmt.Sprintf("directory %s is writable", root), nil
}

// Begin starts an export. The SDK has checked that its time is in a later
// minute than the previous dump's; the table names must stay one path
// segment each.
func (d *destination) Begin(_ context.Context, info sdk.ExportInfo) (sdk.Export, error) {
	if err := d.layout.CheckTables(info.Time, info.Tables); err != nil {
		return nil, sdk.Permanent(err)
	}
	return &export{d: d, info: info}, nil
}
