package localfs_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/exportd/exportd/plugins/localfs"
	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/destinationtest"
)

// exportOne runs Begin, one Put per table and Commit into a localfs
// destination configured with cfg, and returns the first error.
func exportOne(t *testing.T, cfg map[string]any, at time.Time, tables ...string) error {
	t.Helper()
	ctx := context.Background()
	d, err := destinationtest.Configure(ctx, t, localfs.Plugin{}, sdk.DestinationInfo{Name: "acme", Account: "acme"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := d.Begin(ctx, sdk.ExportInfo{ID: "x", Account: "acme", RunID: "r", Time: at, Tables: tables})
	if err != nil {
		return err
	}
	spool := t.TempDir()
	var m sdk.Manifest
	for _, table := range tables {
		p := filepath.Join(spool, table)
		if err := os.WriteFile(p, []byte(table), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := exp.Put(ctx, sdk.File{Table: table, Path: p, Size: int64(len(table)), SHA256: sha(table)}); err != nil {
			_ = exp.Abort(ctx)
			return err
		}
		m.Tables = append(m.Tables, sdk.TableManifest{Name: table, Files: 1})
	}
	if _, err := exp.Commit(ctx, m); err != nil {
		_ = exp.Abort(ctx)
		return err
	}
	return nil
}

// TestModes: files are 0640 and the folders the plugin creates 0750 by
// default, whatever the umask; the mode attribute changes both.
func TestModes(t *testing.T) {
	old := syscall.Umask(0o002) // a umask that would leave group write
	t.Cleanup(func() { syscall.Umask(old) })
	tests := []struct {
		name string
		mode string
		file fs.FileMode
		dir  fs.FileMode
	}{
		{name: "default", file: 0o640, dir: 0o750},
		{name: "owner only", mode: "0600", file: 0o600, dir: 0o700},
		{name: "world readable", mode: "644", file: 0o644, dir: 0o755},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "out")
			cfg := map[string]any{"path": root, "folder": "dumps/acme"}
			if tt.mode != "" {
				cfg["mode"] = tt.mode
			}
			if err := exportOne(t, cfg, time.Now().UTC(), "companies", "events"); err != nil {
				t.Fatal(err)
			}
			n := 0
			err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				fi, err := e.Info()
				if err != nil {
					return err
				}
				want := tt.file
				if e.IsDir() {
					want = tt.dir
				}
				if fi.Mode().Perm() != want {
					t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), want)
				}
				n++
				return nil
			})
			if err != nil || n != 9 { // out, dumps, acme, minute, 2 tables, 2 files, receipt
				t.Fatalf("walked %d entries: %v", n, err)
			}
		})
	}
}

func TestInvalidModes(t *testing.T) {
	for _, mode := range []string{"rw-r-----", "0755", "0400", "0646", "4640", "06400", "64"} {
		t.Run(mode, func(t *testing.T) {
			_, err := destinationtest.Configure(context.Background(), t, localfs.Plugin{}, sdk.DestinationInfo{Name: "d"}, map[string]any{"path": "/x", "mode": mode})
			if sdk.KindOf(err) != sdk.KindConfiguration || sdk.AttributeOf(err) != "mode" {
				t.Fatalf("mode %q: %v, want a configuration error on mode", mode, err)
			}
		})
	}
}

// TestSymlinksAreNotFollowed: a symbolic link anywhere below the
// destination's path, where a folder, a file or the receipt goes, stops
// the export with an error naming it, and nothing is written where it
// points. The path itself may be a link: the operator chose it.
func TestSymlinksAreNotFollowed(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	tests := []struct {
		name string
		link string // below the root, pointing at an outside folder or file
		dir  bool   // the link points at a folder
	}{
		{name: "folder", link: "dumps", dir: true},
		{name: "minute folder", link: "dumps/2024-05-06T07:08", dir: true},
		{name: "table folder", link: "dumps/2024-05-06T07:08/companies", dir: true},
		{name: "receipt", link: "dumps/receipt.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			real := filepath.Join(base, "real")
			root := filepath.Join(base, "root")
			outside := filepath.Join(base, "outside")
			for _, d := range []string{real, outside} {
				if err := os.Mkdir(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink(real, root); err != nil { // allowed: the path itself
				t.Fatal(err)
			}
			link := filepath.Join(real, filepath.FromSlash(tt.link))
			if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
				t.Fatal(err)
			}
			target := outside
			if !tt.dir {
				target = filepath.Join(outside, "receipt.json")
				if err := os.WriteFile(target, []byte(`{"timestamp": "2020-01-01T00:00:00Z", "tables": {}}`), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			err := exportOne(t, map[string]any{"path": root, "folder": "dumps"}, at, "companies")
			if sdk.KindOf(err) != sdk.KindConfiguration || !strings.Contains(err.Error(), filepath.Join(root, filepath.FromSlash(tt.link))+" is a symbolic link") {
				t.Fatalf("export: %v, want a configuration error naming the link", err)
			}
			filepath.WalkDir(outside, func(p string, e fs.DirEntry, err error) error {
				if err == nil && !e.IsDir() && p != target {
					t.Errorf("written through the link: %s", p)
				}
				return nil
			})
			if !tt.dir {
				if b, _ := os.ReadFile(target); !strings.Contains(string(b), "2020") {
					t.Errorf("the link's target changed: %s", b)
				}
			}
		})
	}
}

// TestCheckRefusesLinkedFolder: validate -check reports a symbolic link
// where the configured folder goes.
func TestCheckRefusesLinkedFolder(t *testing.T) {
	root := t.TempDir()
	if err := os.Symlink(t.TempDir(), filepath.Join(root, "dumps")); err != nil {
		t.Fatal(err)
	}
	d, err := destinationtest.Configure(context.Background(), t, localfs.Plugin{}, sdk.DestinationInfo{Name: "d"}, map[string]any{"path": root, "folder": "dumps"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Check(context.Background()); sdk.AttributeOf(err) != "path" || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("Check: %v", err)
	}
}

// TestConcurrentCommitsKeepTheNewerReceipt: an older and a newer export of
// one destination commit at the same moment; the newer receipt stays,
// every time.
func TestConcurrentCommitsKeepTheNewerReceipt(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for round := 0; round < 20; round++ {
		root := t.TempDir()
		d, err := destinationtest.Configure(ctx, t, localfs.Plugin{}, sdk.DestinationInfo{Name: "acme", Account: "acme"}, map[string]any{"path": root})
		if err != nil {
			t.Fatal(err)
		}
		times := []time.Time{at, at.Add(time.Hour)}
		exps := make([]sdk.Export, len(times))
		for i, ti := range times {
			exps[i], err = d.Begin(ctx, sdk.ExportInfo{ID: fmt.Sprint(i), Account: "acme", RunID: "r", Time: ti, Tables: []string{"t"}})
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "t")
			if err := os.WriteFile(p, []byte("t"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := exps[i].Put(ctx, sdk.File{Table: "t", Path: p, Size: 1, SHA256: sha("t")}); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		for _, exp := range exps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = exp.Commit(ctx, sdk.Manifest{Tables: []sdk.TableManifest{{Name: "t", Files: 1}}}) // the older may be refused
			}()
		}
		wg.Wait()
		b, err := os.ReadFile(filepath.Join(root, "receipt.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "2024-05-06T08:08:09") {
			t.Fatalf("round %d: the older dump's receipt stayed:\n%s", round, b)
		}
	}
}

// TestTableNamesStayBelowThePath: a table name that would climb out of
// the destination's path is refused at Begin, and nothing is written
// outside it.
func TestTableNamesStayBelowThePath(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	err := exportOne(t, map[string]any{"path": root}, time.Now().UTC(), "../../escaped")
	if sdk.KindOf(err) != sdk.KindPermanent || !strings.Contains(err.Error(), `"../../escaped" cannot be a key segment`) {
		t.Fatalf("export: %v, want a permanent error", err)
	}
	if _, err := os.Stat(filepath.Join(base, "escaped")); !os.IsNotExist(err) {
		t.Fatalf("written outside the path: %v", err)
	}
}
