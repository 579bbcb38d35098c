package localfs_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/exportd/exportd/plugins/localfs"
	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/destinationtest"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// dumpWith runs one export of two tables into a localfs destination with
// the given configuration, putting each file and committing a manifest
// with columns and file lists, as the daemon sends them.
func dumpWith(t *testing.T, cfg map[string]any, at time.Time, recommit bool) (sdk.Export, sdk.Receipt, error) {
	t.Helper()
	ctx := context.Background()
	d, err := destinationtest.Configure(ctx, t, localfs.Plugin{}, sdk.DestinationInfo{Name: "acme", Account: "acme"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	info := sdk.ExportInfo{ID: "x", Account: "acme", RunID: "r1", Time: at, Tables: []string{"companies", "events"}, ExporterVersion: "9.9.9", Recommit: recommit}
	exp, err := d.Begin(ctx, info)
	if err != nil {
		t.Fatal(err)
	}
	spool := t.TempDir()
	m := sdk.Manifest{}
	for _, tb := range []struct {
		name  string
		files []string
	}{{"companies", []string{"c0"}}, {"events", []string{"e0", "e-one"}}} {
		tm := sdk.TableManifest{Name: tb.name, Files: len(tb.files), Columns: []sdk.Column{{Name: "id", Type: "INT64 (INT(64,true))"}}}
		for i, body := range tb.files {
			f := sdk.File{Table: tb.name, Index: i, Path: filepath.Join(spool, body), Size: int64(len(body)), Rows: 1, SHA256: sha(body)}
			if err := os.WriteFile(f.Path, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			if !recommit {
				if err := exp.Put(ctx, f); err != nil {
					t.Fatal(err)
				}
			}
			tm.Rows, tm.Bytes = tm.Rows+1, tm.Bytes+f.Size
			tm.FileList = append(tm.FileList, sdk.ManifestFile{Index: i, Size: f.Size, Rows: 1, SHA256: f.SHA256})
		}
		m.Tables = append(m.Tables, tm)
	}
	rc, err := exp.Commit(ctx, m)
	return exp, rc, err
}

// TestManifest: with manifest = true, each dump gets _manifest.json in its
// minute folder, whose every file entry matches the file on disk, and the
// receipt is byte for byte what it is without a manifest.
func TestManifest(t *testing.T) {
	at := time.Date(2023, 3, 14, 4, 3, 7, 963883000, time.UTC)
	plainRoot, root := t.TempDir(), t.TempDir()
	_, plain, err := dumpWith(t, map[string]any{"path": plainRoot, "folder": "exports"}, at, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(plainRoot, "exports", "2023-03-14T04:03", legacylayout.ManifestName)); !os.IsNotExist(err) {
		t.Fatalf("a manifest without manifest = true: %v", err)
	}
	_, rc, err := dumpWith(t, map[string]any{"path": root, "folder": "exports", "manifest": true}, at, false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rc.Body, plain.Body) {
		t.Fatalf("the receipt changed with a manifest:\n%s\nwithout:\n%s", rc.Body, plain.Body)
	}
	body, err := os.ReadFile(filepath.Join(root, "exports", "2023-03-14T04:03", "_manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	man, err := legacylayout.ParseManifest(body)
	if err != nil {
		t.Fatal(err)
	}
	if man.ExporterVersion != "9.9.9" || man.Account != "acme" || man.RunID != "r1" || man.Timestamp != "2023-03-14T04:03:07.963883Z" || len(man.Tables) != 2 {
		t.Fatalf("manifest %+v", man)
	}
	for name, mt := range man.Tables {
		if len(mt.Files) != mt.TotalFileCount || len(mt.Columns) != 1 {
			t.Errorf("%s: %+v", name, mt)
		}
		for _, f := range mt.Files {
			data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f.Key)))
			if err != nil || int64(len(data)) != f.Size || hex.EncodeToString(sha(string(data))) != f.SHA256 {
				t.Errorf("%s: %+v does not describe the file (%v)", name, f, err)
			}
		}
	}
	if info, err := os.Stat(filepath.Join(root, "exports", "2023-03-14T04:03", "_manifest.json")); err != nil || info.Mode().Perm() != 0o640 {
		t.Fatalf("manifest mode: %v %v", info.Mode(), err)
	}

	// A recommit writes the same manifest again, from the file lists alone.
	if err := os.Remove(filepath.Join(root, "exports", "2023-03-14T04:03", "_manifest.json")); err != nil {
		t.Fatal(err)
	}
	if _, again, err := dumpWith(t, map[string]any{"path": root, "folder": "exports", "manifest": true}, at, true); err != nil || !bytes.Equal(again.Body, rc.Body) {
		t.Fatalf("recommit: %v", err)
	}
	if again, _ := os.ReadFile(filepath.Join(root, "exports", "2023-03-14T04:03", "_manifest.json")); !bytes.Equal(again, body) {
		t.Fatalf("the recommit wrote\n%s\nthe first commit\n%s", again, body)
	}
}
