package sdk

import (
	"context"
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
	info := ExportInfo{ID: "x", Time: at, Tables: []string{"a"}, Recommit: true}
	if got := exportInfoFromPB(exportInfoToPB("d", info)); !got.Recommit {
		t.Fatal("recommit lost on the wire")
	}
	m := Manifest{Tables: []TableManifest{{Name: "a", Files: 1}, {Name: "b", Files: 2, Rows: 3, Bytes: 4, Carried: at.Add(-time.Hour)}}}
	got := manifestFromPB(manifestToPB(m))
	if !got.Tables[0].Carried.IsZero() || !got.Tables[1].Carried.Equal(m.Tables[1].Carried) || got.Tables[1] != m.Tables[1] {
		t.Fatalf("manifest after the wire: %+v", got)
	}
}
