package localfs_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/plugins/localfs"
	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/destinationtest"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// inspector reads a localfs destination back from disk.
type inspector struct {
	root   string
	layout legacylayout.Layout
}

func (in inspector) Receipt(context.Context) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(in.root, filepath.FromSlash(in.layout.ReceiptKey())))
	if os.IsNotExist(err) {
		return nil, nil
	}
	return b, err
}

func (in inspector) File(_ context.Context, info sdk.ExportInfo, table string, index int) ([]byte, error) {
	return os.ReadFile(filepath.Join(in.root, filepath.FromSlash(in.layout.FileKey(info.Time, table, index))))
}

// harness is the conformance harness of localfs, with the plugin's
// binary or the plugin itself.
func harness(t *testing.T, inProcess bool) destinationtest.Harness {
	h := destinationtest.Harness{
		New: func(t *testing.T) (map[string]any, destinationtest.Inspector) {
			root := t.TempDir()
			return map[string]any{"path": root, "folder": "/dumps/acme/"},
				inspector{root: root, layout: legacylayout.Layout{Folder: "dumps/acme"}}
		},
		Invalid: []destinationtest.InvalidConfig{
			{Name: "missing path", Config: map[string]any{"folder": "x"}, Attribute: "path"},
			{Name: "empty path", Config: map[string]any{"path": ""}, Attribute: "path"},
			{Name: "dot-dot folder", Config: map[string]any{"path": "/tmp/x", "folder": "a/../b"}, Attribute: "folder"},
			{Name: "folder with empty segment", Config: map[string]any{"path": "/tmp/x", "folder": "a//b"}, Attribute: "folder"},
			{Name: "path of the wrong type", Config: map[string]any{"path": 42}, Attribute: "path"},
			{Name: "executable mode", Config: map[string]any{"path": "/tmp/x", "mode": "0750"}, Attribute: "mode"},
			{Name: "world-writable mode", Config: map[string]any{"path": "/tmp/x", "mode": "0666"}, Attribute: "mode"},
		},
		Broken: []destinationtest.BrokenSetup{
			{Name: "path is a file", Attribute: "path", New: func(t *testing.T) map[string]any {
				file := filepath.Join(t.TempDir(), "file")
				if err := os.WriteFile(file, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				return map[string]any{"path": file}
			}},
		},
	}
	if inProcess {
		h.Plugin = localfs.Plugin{}
	} else {
		h.Binary = testsupport.Binary(t, "./plugins/localfs/cmd/exportd-plugin-localfs", "exportd-plugin-localfs")
	}
	return h
}

func TestConformance(t *testing.T) { destinationtest.Run(t, harness(t, false)) }

// TestConformanceInProcess runs the suite against the plugin served from
// the test's process, where coverage counts it.
func TestConformanceInProcess(t *testing.T) { destinationtest.Run(t, harness(t, true)) }

// TestLayout checks the exact keys of a dump, in process, and its
// receipt against the shared golden one (testdata/receipts).
func TestLayout(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	d, err := destinationtest.Configure(ctx, t, localfs.Plugin{}, sdk.DestinationInfo{Name: "acme", Account: "acme"}, map[string]any{"path": root, "folder": "dumps"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2023, 3, 14, 4, 3, 7, 963883000, time.UTC)
	exp, err := d.Begin(ctx, sdk.ExportInfo{ID: "x", Account: "acme", RunID: "r1", Time: at, Tables: []string{"companies", "contacts"}})
	if err != nil {
		t.Fatal(err)
	}
	spool := t.TempDir()
	put := func(table string, index int, body string) {
		p := filepath.Join(spool, table+body)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := exp.Put(ctx, sdk.File{Table: table, Index: index, Path: p, Size: int64(len(body)), SHA256: sha(body)}); err != nil {
			t.Fatal(err)
		}
	}
	put("companies", 0, "c0")
	put("companies", 1, "c1")
	put("contacts", 0, "k0")
	rc, err := exp.Commit(ctx, sdk.Manifest{Tables: []sdk.TableManifest{{Name: "companies", Files: 2}, {Name: "contacts", Files: 1}}})
	if err != nil {
		t.Fatal(err)
	}

	var got []string
	filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(root, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return err
	})
	want := []string{
		"dumps/2023-03-14T04:03/companies/companies_000000000000.parquet.gz",
		"dumps/2023-03-14T04:03/companies/companies_000000000001.parquet.gz",
		"dumps/2023-03-14T04:03/contacts/contacts_000000000000.parquet.gz",
		"dumps/receipt.json",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantReceipt := string(testsupport.Fixture(t, "receipts/two-tables.json"))
	if string(rc.Body) != wantReceipt {
		t.Fatalf("receipt:\n%s\nwant:\n%s", rc.Body, wantReceipt)
	}
	var parsed map[string]any
	if err := json.Unmarshal(rc.Body, &parsed); err != nil {
		t.Fatal(err)
	}

	// An older dump finishing later never replaces the newer receipt.
	old, err := d.Begin(ctx, sdk.ExportInfo{ID: "y", Account: "acme", RunID: "r0", Time: at.Add(-time.Hour), Tables: []string{"companies"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Commit(ctx, sdk.Manifest{Tables: []sdk.TableManifest{{Name: "companies", Files: 1}}}); sdk.KindOf(err) != sdk.KindPermanent {
		t.Fatalf("older commit: %v, want a permanent error", err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "dumps", "receipt.json")); string(b) != wantReceipt {
		t.Fatal("older dump replaced the receipt")
	}
}
