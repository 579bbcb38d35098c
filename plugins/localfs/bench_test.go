package localfs

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/exportd/exportd/sdk"
)

// BenchmarkSmallExport measures what a small account's export costs the
// plugin beside the protocol: six files of a few kilobytes delivered into
// a new minute folder, then the receipt, without fsync (as in the fleet
// benchmark).
func BenchmarkSmallExport(b *testing.B) {
	ctx := context.Background()
	spoolDir := b.TempDir()
	tables := []string{"companies", "contacts", "events", "revenue", "revenue_attribution", "paid_ads"}
	var files []sdk.File
	for i, t := range tables {
		body := make([]byte, 3000+i*1000)
		p := filepath.Join(spoolDir, t)
		if err := os.WriteFile(p, body, 0o600); err != nil {
			b.Fatal(err)
		}
		sum := sha256.Sum256(body)
		files = append(files, sdk.File{Table: t, Path: p, Size: int64(len(body)), Rows: 10, SHA256: sum[:]})
	}
	root := b.TempDir()
	var m sdk.Manifest
	for _, f := range files {
		m.Tables = append(m.Tables, sdk.TableManifest{Name: f.Table, Files: 1, Rows: f.Rows, Bytes: f.Size})
	}
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	b.ResetTimer()
	for i := range b.N {
		// A destination per export, as a fleet has: each starts empty.
		d, err := Plugin{}.Configure(ctx, sdk.DestinationInfo{Name: "d"}, sdk.NewConfig(map[string]any{
			"path": filepath.Join(root, fmt.Sprint(i)), "fsync": false,
		}))
		if err != nil {
			b.Fatal(err)
		}
		exp, err := d.Begin(ctx, sdk.ExportInfo{ID: "e", Account: "a", RunID: "r", Time: at, Tables: tables})
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range files {
			if err := exp.Put(ctx, f); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := exp.Commit(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}
