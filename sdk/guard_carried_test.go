package sdk

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestGuardCarriedTables(t *testing.T) {
	at := time.Date(2024, 5, 1, 10, 30, 5, 0, time.UTC)
	earlier := at.Add(-3 * time.Minute)
	tests := []struct {
		name    string
		tables  []TableManifest
		refusal string // empty: accepted
	}{
		{"carried beside delivered", []TableManifest{{Name: "a", Files: 1}, {Name: "b", Files: 4, Carried: earlier}}, ""},
		{"carried without files", []TableManifest{{Name: "a", Files: 1}, {Name: "b", Files: 0, Carried: earlier}}, "has no files"},
		{"carried from the same minute", []TableManifest{{Name: "a", Files: 1}, {Name: "b", Files: 2, Carried: at.Add(-4 * time.Second)}}, "not in an earlier minute"},
		{"carried from a later dump", []TableManifest{{Name: "a", Files: 1}, {Name: "b", Files: 2, Carried: at.Add(time.Hour)}}, "not in an earlier minute"},
		{"an own table carried", []TableManifest{{Name: "a", Files: 1, Carried: earlier}}, "but this export delivers it"},
		{"carried twice", []TableManifest{{Name: "a", Files: 1}, {Name: "b", Files: 1, Carried: earlier}, {Name: "b", Files: 1, Carried: earlier}}, "twice"},
		{"own table left out", []TableManifest{{Name: "b", Files: 1, Carried: earlier}}, "omits tables [a]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			inner := &recordingExport{}
			g := newGuardedExport(inner, []string{"a"})
			g.at = at
			if err := g.Put(ctx, File{Table: "a", Index: 0}); err != nil {
				t.Fatal(err)
			}
			if err := g.Put(ctx, File{Table: "b", Index: 0}); KindOf(err) != KindPermanent {
				t.Fatalf("put for a carried table: %v", err)
			}
			_, err := g.Commit(ctx, Manifest{Tables: tt.tables})
			switch {
			case tt.refusal == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.refusal != "" && (err == nil || !strings.Contains(err.Error(), tt.refusal)):
				t.Fatalf("got %v, want a refusal saying %q", err, tt.refusal)
			case tt.refusal != "" && inner.commits != 0:
				t.Fatal("a refused manifest reached the plugin's Commit")
			}
		})
	}
}

func TestGuardRecommit(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2024, 5, 1, 10, 30, 5, 0, time.UTC)
	inner := &recordingExport{}
	g := newGuardedExport(inner, []string{"a", "b"})
	g.at, g.recommit = at, true
	if err := g.Put(ctx, File{Table: "a", Index: 0}); KindOf(err) != KindPermanent {
		t.Fatalf("put in a recommit: %v", err)
	}
	if _, err := g.Commit(ctx, Manifest{Tables: []TableManifest{{Name: "a", Files: 3}}}); err == nil {
		t.Fatal("a recommit leaving out a table was accepted")
	}
	m := Manifest{Tables: []TableManifest{{Name: "a", Files: 3}, {Name: "b", Files: 1}, {Name: "c", Files: 2, Carried: at.Add(-time.Hour)}}}
	if _, err := g.Commit(ctx, m); err != nil {
		t.Fatalf("recommit without puts: %v", err)
	}
	if inner.commits != 1 {
		t.Fatalf("%d commits reached the plugin", inner.commits)
	}
}

func TestNewFieldsSurviveTheWire(t *testing.T) {
	at := time.Date(2024, 5, 1, 10, 30, 5, 123456000, time.UTC)
	info := ExportInfo{ID: "x", Time: at, Tables: []string{"a"}, Recommit: true, ExporterVersion: "v1.2.3"}
	if got := exportInfoFromPB(exportInfoToPB("d", info)); !got.Recommit || got.ExporterVersion != "v1.2.3" {
		t.Fatalf("export info after the wire: %+v", got)
	}
	m := Manifest{Tables: []TableManifest{
		{Name: "a", Files: 1, Rows: 7, Bytes: 9,
			Columns:  []Column{{Name: "id", Type: "INT64"}, {Name: "tags", Type: "LIST<BYTE_ARRAY (STRING)>"}},
			FileList: []ManifestFile{{Index: 0, Size: 9, Rows: 7, SHA256: []byte{1, 2}}}},
		{Name: "b", Files: 2, Rows: 3, Bytes: 4, Carried: at.Add(-time.Hour)},
	}}
	got := manifestFromPB(manifestToPB(m))
	if !got.Tables[0].Carried.IsZero() || !got.Tables[1].Carried.Equal(m.Tables[1].Carried) || !reflect.DeepEqual(got, m) {
		t.Fatalf("manifest after the wire: %+v", got)
	}
}

func TestGuardChecksTheFileList(t *testing.T) {
	at := time.Date(2024, 5, 1, 10, 30, 5, 0, time.UTC)
	files := []File{
		{Table: "a", Index: 0, Size: 10, Rows: 2, SHA256: []byte{1}},
		{Table: "a", Index: 1, Size: 20, Rows: 3, SHA256: []byte{2}},
	}
	list := func(edit func([]ManifestFile)) []ManifestFile {
		l := []ManifestFile{{Index: 0, Size: 10, Rows: 2, SHA256: []byte{1}}, {Index: 1, Size: 20, Rows: 3, SHA256: []byte{2}}}
		if edit != nil {
			edit(l)
		}
		return l
	}
	tests := []struct {
		name     string
		recommit bool
		table    TableManifest
		refusal  string
	}{
		{"no list", false, TableManifest{Name: "a", Files: 2, Rows: 5, Bytes: 30}, ""},
		{"what was put", false, TableManifest{Name: "a", Files: 2, Rows: 5, Bytes: 30, FileList: list(nil)}, ""},
		{"another digest", false, TableManifest{Name: "a", Files: 2, Rows: 5, Bytes: 30, FileList: list(func(l []ManifestFile) { l[1].SHA256 = []byte{9} })}, "was Put with"},
		{"a file short", false, TableManifest{Name: "a", Files: 2, Rows: 5, Bytes: 30, FileList: list(nil)[:1]}, "lists 1 files but counts 2"},
		{"out of order", false, TableManifest{Name: "a", Files: 2, Rows: 5, Bytes: 30, FileList: list(func(l []ManifestFile) { l[0], l[1] = l[1], l[0] })}, "has index 1"},
		{"totals differ", false, TableManifest{Name: "a", Files: 2, Rows: 6, Bytes: 30, FileList: list(nil)}, "adds up to 5 rows"},
		{"recommit", true, TableManifest{Name: "a", Files: 2, Rows: 5, Bytes: 30, FileList: list(func(l []ManifestFile) { l[1].SHA256 = []byte{9} })}, ""},
		{"recommit totals differ", true, TableManifest{Name: "a", Files: 2, Rows: 5, Bytes: 31, FileList: list(nil)}, "adds up to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			inner := &recordingExport{}
			g := newGuardedExport(inner, []string{"a"})
			g.at, g.recommit = at, tt.recommit
			if !tt.recommit {
				for _, f := range files {
					if err := g.Put(ctx, f); err != nil {
						t.Fatal(err)
					}
				}
			}
			_, err := g.Commit(ctx, Manifest{Tables: []TableManifest{tt.table}})
			switch {
			case tt.refusal == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.refusal != "" && (err == nil || !strings.Contains(err.Error(), tt.refusal)):
				t.Fatalf("got %v, want a refusal saying %q", err, tt.refusal)
			}
		})
	}
}
