package localfs

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/destinationtest"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// failingSync makes syncing the directories below root whose path ends in
// one of suffixes fail, as an I/O error would: real file systems give no
// way to provoke it.
func failingSync(suffixes ...string) func(*os.File) error {
	return func(f *os.File) error {
		for _, s := range suffixes {
			if strings.HasSuffix(f.Name(), s) {
				return errors.New("input/output error")
			}
		}
		return f.Sync()
	}
}

func spool(t *testing.T, table string, index int, body string) sdk.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "spool")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	return sdk.File{Table: table, Index: index, Path: p, Size: int64(len(body)), Rows: 1, SHA256: sum[:]}
}

// TestDirectorySyncFailures: a file or receipt renamed into place whose
// directory then cannot be synced. A receipt in place means the dump is
// committed: Commit succeeds and nothing it names is removed by a later
// Abort. A data file in place is still found and removed by Abort.
func TestDirectorySyncFailures(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	info := sdk.ExportInfo{ID: "e", Account: "acme", RunID: "r", Time: at, Tables: []string{"companies"}}
	layout := legacylayout.Layout{Folder: "dumps"}
	tests := []struct {
		name       string
		failIn     string // directory whose sync fails
		wantPutErr bool
		wantCommit bool
		wantFile   bool // the data file exists after Abort
	}{
		{name: "receipt directory", failIn: "/dumps", wantCommit: true, wantFile: true},
		{name: "data file directory", failIn: "/companies", wantPutErr: true, wantFile: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			root := t.TempDir()
			dst, err := destinationtest.Configure(ctx, t, Plugin{}, sdk.DestinationInfo{Name: "acme", Account: "acme"}, map[string]any{"path": root, "folder": "dumps"})
			if err != nil {
				t.Fatal(err)
			}
			d := dst.(*destination)
			d.tree.syncDir = failingSync(tt.failIn)
			exp, err := d.Begin(ctx, info)
			if err != nil {
				t.Fatal(err)
			}
			err = exp.Put(ctx, spool(t, "companies", 0, "c0"))
			if (err != nil) != tt.wantPutErr {
				t.Fatalf("Put: %v", err)
			}
			if err == nil {
				_, err = exp.Commit(ctx, sdk.Manifest{Tables: []sdk.TableManifest{{Name: "companies", Files: 1, Rows: 1}}})
				if (err == nil) != tt.wantCommit {
					t.Errorf("Commit: %v", err)
				}
			}
			if err != nil {
				// What the daemon does when a Put or the Commit fails (the
				// SDK's guard lets an Abort through only then).
				if err := exp.Abort(ctx); err != nil {
					t.Fatal(err)
				}
			}
			file := filepath.Join(root, filepath.FromSlash(layout.FileKey(at, "companies", 0)))
			if _, err := os.Stat(file); (err == nil) != tt.wantFile {
				t.Fatalf("data file after Abort: %v, want present: %v", err, tt.wantFile)
			}
			if tt.wantCommit {
				rc, err := os.ReadFile(filepath.Join(root, "dumps", "receipt.json"))
				if err != nil || !strings.Contains(string(rc), `"total_file_count": 1`) {
					t.Fatalf("receipt: %v\n%s", err, rc)
				}
			}
		})
	}
}
