package job

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// TestTableSubsetCarriesTheOtherTables: after a full dump, a re-export of
// one table writes a receipt that names every table: the re-exported one
// in the new minute folder, the others in the folders of the dump that
// holds them. Every folder it names is complete, and its timestamp is the
// time the re-export started (it waited for the next minute).
func TestTableSubsetCarriesTheOtherTables(t *testing.T) {
	f := newFixture(t, "", "a")
	ctx := context.Background()
	full := time.Date(2024, 5, 1, 14, 36, 2, 0, time.UTC)
	f.clock.set(full)
	ev := event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: full.Add(-time.Minute)}
	if r := f.e.export(ctx, spec{jobID: "run-1", event: ev, dests: []string{"a"}, completion: "r1", maxAttempt: 3}); r[0].status != StatusCommitted {
		t.Fatalf("full dump: %+v", r)
	}

	steps := []struct {
		table string
		at    time.Time
		want  map[string]string // table -> minute of its folder
	}{
		{"events", full.Add(4 * time.Second), map[string]string{"events": "2024-05-01T14:37"}},
		{"companies", full.Add(80 * time.Second), map[string]string{"events": "2024-05-01T14:37", "companies": "2024-05-01T14:38"}},
	}
	for i, st := range steps {
		f.clock.set(st.at)
		job := "reexport-" + st.table
		r := f.e.export(ctx, spec{jobID: job, event: ev, dests: []string{"a"}, tables: []string{st.table}, completion: job, force: true, maxAttempt: 3})
		if r[0].status != StatusCommitted {
			t.Fatalf("re-export of %s: %+v", st.table, r)
		}
		rc, ts, _ := f.receipt("a")
		if len(rc.Tables) != 6 {
			t.Fatalf("step %d: the receipt names %d tables: %+v", i, len(rc.Tables), rc.Tables)
		}
		for name, tb := range rc.Tables {
			minute := "2024-05-01T14:36"
			if m, ok := st.want[name]; ok {
				minute = m
			}
			if want := minute + "/" + name; tb.Folder != want {
				t.Errorf("step %d: %s is in %s, want %s", i, name, tb.Folder, want)
			}
		}
		f.requireComplete("a", rc)
		if ts.After(f.clock.Now()) || ts.Format(legacylayout.MinuteFormat) != st.want[st.table] {
			t.Fatalf("step %d: timestamp %v, clock %v", i, ts, f.clock.Now())
		}
	}
}

// TestTableSubsetRefusedWhereItCannotHold: a subset is refused, at once,
// when the destination has no complete dump to complete it with, or when
// its other tables hold another run.
func TestTableSubsetRefusedWhereItCannotHold(t *testing.T) {
	f := newFixture(t, "", "a")
	ctx := context.Background()
	now := time.Now().UTC()
	f.clock.set(now)
	r1 := event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: now.Add(-time.Hour)}
	if _, err := f.e.State.RecordRun(ctx, r1, f.e.notAfter()); err != nil {
		t.Fatal(err)
	}
	reply := f.e.Reexport(ctx, "acme", ReexportRequest{Tables: []string{"events"}})
	if !strings.Contains(reply.Error, "no complete dump on record") {
		t.Fatalf("subset without a dump: %+v", reply)
	}
	if r := f.e.export(ctx, spec{jobID: "run-1", event: r1, dests: []string{"a"}, completion: "r1", maxAttempt: 3}); r[0].status != StatusCommitted {
		t.Fatalf("full dump: %+v", r)
	}
	r2 := event.ModellingCompleted{AccountID: "acme", RunID: "r2", CompletedAt: now.Add(-time.Minute)}
	if _, err := f.e.State.RecordRun(ctx, r2, f.e.notAfter()); err != nil {
		t.Fatal(err)
	}
	reply = f.e.Reexport(ctx, "acme", ReexportRequest{Tables: []string{"events"}})
	if !strings.Contains(reply.Error, "would mix two runs") {
		t.Fatalf("subset of another run: %+v", reply)
	}
	// The same subset of the run the dump holds is accepted.
	if reply = f.e.Reexport(ctx, "acme", ReexportRequest{Tables: []string{"events"}, RunID: "r1"}); reply.Error != "" {
		t.Fatalf("subset of the dump's run: %+v", reply)
	}
}
