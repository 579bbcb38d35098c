package localfs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/destinationtest"
)

// TestAbortAndTheManifest: an export whose commit failed after its
// manifest was written takes the manifest away with its files; a
// recommit's Abort leaves it, since the crashed attempt that delivered
// the files may have made the dump visible.
func TestAbortAndTheManifest(t *testing.T) {
	for _, recommit := range []bool{false, true} {
		ctx := context.Background()
		root := t.TempDir()
		dst, err := destinationtest.Configure(ctx, t, Plugin{}, sdk.DestinationInfo{Name: "acme", Account: "acme"}, map[string]any{"path": root, "manifest": true})
		if err != nil {
			t.Fatal(err)
		}
		at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
		exp, err := dst.Begin(ctx, sdk.ExportInfo{ID: "e", Account: "acme", RunID: "r", Time: at, Tables: []string{"companies"}, Recommit: recommit})
		if err != nil {
			t.Fatal(err)
		}
		f := spool(t, "companies", 0, "c0")
		if !recommit {
			if err := exp.Put(ctx, f); err != nil {
				t.Fatal(err)
			}
		}
		m := sdk.Manifest{Tables: []sdk.TableManifest{{Name: "companies", Files: 1, Rows: 1, Bytes: f.Size,
			FileList: []sdk.ManifestFile{{Index: 0, Size: f.Size, Rows: 1, SHA256: f.SHA256}}}}}
		if err := exp.(*export).writeManifest(ctx, m); err != nil {
			t.Fatal(err)
		}
		if err := exp.Abort(ctx); err != nil {
			t.Fatal(err)
		}
		_, err = os.Stat(filepath.Join(root, "2024-05-06T07:08", "_manifest.json"))
		if recommit != (err == nil) {
			t.Fatalf("recommit %v: the manifest after Abort: %v", recommit, err)
		}
	}
}
