package legacylayout

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/sdk"
)

// manifestCase is a dump of one delivered table (two files) and one
// carried over from an earlier dump.
func manifestCase() (Layout, sdk.ExportInfo, sdk.Manifest) {
	at := time.Date(2023, 3, 14, 4, 3, 7, 963883000, time.UTC)
	info := sdk.ExportInfo{Account: "acme", RunID: "run-7", Time: at, ExporterVersion: "1.4.0"}
	m := sdk.Manifest{Tables: []sdk.TableManifest{
		{Name: "events", Files: 2, Rows: 30, Bytes: 300,
			Columns:  []sdk.Column{{Name: "id", Type: "INT64 (INT(64,true))"}, {Name: "name", Type: "BYTE_ARRAY (STRING)"}},
			FileList: []sdk.ManifestFile{{Index: 0, Size: 120, Rows: 10, SHA256: bytes.Repeat([]byte{0xab}, 32)}, {Index: 1, Size: 180, Rows: 20, SHA256: bytes.Repeat([]byte{0x01}, 32)}}},
		{Name: "companies", Files: 1, Rows: 5, Bytes: 90, Carried: at.Add(-time.Hour)},
	}}
	return Layout{Folder: "dumps"}, info, m
}

// TestManifestGolden: the manifest's bytes are fixed by its content:
// tables in name order, keys from the layout, digests in hex. The
// expected bytes are in testdata/manifest.json.
func TestManifestGolden(t *testing.T) {
	l, info, m := manifestCase()
	man, err := l.NewManifest(info, m)
	if err != nil {
		t.Fatal(err)
	}
	got := man.Marshal()
	golden := filepath.Join("testdata", "manifest.json")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// Reversed table order in the daemon's manifest: the same bytes.
	m.Tables[0], m.Tables[1] = m.Tables[1], m.Tables[0]
	again, _ := l.NewManifest(info, m)
	if !bytes.Equal(again.Marshal(), want) {
		t.Fatal("the bytes depend on the order of the tables")
	}
	back, err := ParseManifest(want)
	if err != nil || back.Tables["events"].Files[1].Key != "dumps/2023-03-14T04:03/events/events_000000000001.parquet.gz" {
		t.Fatalf("%+v %v", back, err)
	}
	if l.ManifestKey(info.Time) != "dumps/2023-03-14T04:03/_manifest.json" {
		t.Fatalf("key %s", l.ManifestKey(info.Time))
	}
}

// TestManifestAgreesWithTheReceipt: every table's folder and file count
// are the receipt's, carried tables included.
func TestManifestAgreesWithTheReceipt(t *testing.T) {
	l, info, m := manifestCase()
	man, _ := l.NewManifest(info, m)
	rc := l.NewReceipt(info.Time, m)
	if man.Timestamp != rc.Timestamp || len(man.Tables) != len(rc.Tables) {
		t.Fatalf("manifest %+v, receipt %+v", man, rc)
	}
	for name, rt := range rc.Tables {
		mt := man.Tables[name]
		if mt.Folder != rt.Folder || mt.TotalFileCount != rt.TotalFileCount {
			t.Errorf("%s: manifest %+v, receipt %+v", name, mt, rt)
		}
		for _, f := range mt.Files {
			if !strings.HasPrefix(f.Key, rt.Folder+"/") {
				t.Errorf("%s: file %s outside %s", name, f.Key, rt.Folder)
			}
		}
	}
	if c := man.Tables["companies"]; c.CarriedFrom != "dumps/2023-03-14T03:03/_manifest.json" || c.Files != nil {
		t.Errorf("carried table: %+v", c)
	}
}

// TestManifestWithoutFileLists: a daemon that sends no file lists gets a
// configuration error naming the attribute; a recommit without them
// writes nothing, leaving the first attempt's manifest.
func TestManifestWithoutFileLists(t *testing.T) {
	l, info, m := manifestCase()
	m.Tables[0].FileList = nil
	_, err := l.ManifestBody(info, m)
	var se *sdk.Error
	if !errors.Is(err, ErrNoFileList) || !errors.As(err, &se) || se.Attribute != "manifest" || sdk.KindOf(err) != sdk.KindConfiguration {
		t.Fatalf("without file lists: %v", err)
	}
	info.Recommit = true
	if body, err := l.ManifestBody(info, m); body != nil || err != nil {
		t.Fatalf("a recommit without file lists: %q %v", body, err)
	}
}

func TestParseManifestRefusesOtherVersions(t *testing.T) {
	if _, err := ParseManifest([]byte(`{"format_version":2,"tables":{}}`)); err == nil {
		t.Fatal("a manifest of format 2 was accepted")
	}
}
