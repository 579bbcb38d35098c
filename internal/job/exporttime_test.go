package job

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
)

// TestExportTimeNeverAheadOfTheClock: when the destination's next free
// minute has not begun, the export waits for it and takes the time then;
// the receipt's timestamp is the clock's reading when the dump started,
// never a time to come.
func TestExportTimeNeverAheadOfTheClock(t *testing.T) {
	f := newFixture(t, "", "d1", "d2", "d3", "d4")
	base := time.Date(2024, 5, 1, 10, 30, 15, 500000000, time.UTC)
	tests := []struct {
		name     string
		dest     string
		reserved time.Time // an earlier reservation, zero for none
		want     time.Time
	}{
		{"first dump", "d1", time.Time{}, base},
		{"an earlier minute", "d2", base.Add(-time.Minute), base},
		{"the minute of an attempt that crashed", "d3", base.Add(-10 * time.Second), time.Date(2024, 5, 1, 10, 31, 0, 0, time.UTC)},
		{"a reservation ahead of the clock", "d4", base.Add(3 * time.Minute), time.Date(2024, 5, 1, 10, 34, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if !tt.reserved.IsZero() {
				if _, _, err := f.e.State.Reserve(ctx, tt.dest, tt.reserved); err != nil {
					t.Fatal(err)
				}
			}
			f.clock.set(base)
			ev := event.ModellingCompleted{AccountID: "acme", RunID: "r-" + tt.dest, CompletedAt: base.Add(-time.Hour)}
			results := f.e.export(ctx, spec{jobID: "j-" + tt.dest, event: ev, dests: []string{tt.dest}, completion: ev.RunID, maxAttempt: 3})
			if len(results) != 1 || results[0].status != StatusCommitted {
				t.Fatalf("results %+v", results)
			}
			got := results[0].outcome.Time
			_, ts, _ := f.receipt(tt.dest)
			switch {
			case !got.Equal(tt.want) || !ts.Equal(tt.want):
				t.Fatalf("export time %v (receipt %v), want %v", got, ts, tt.want)
			case got.After(f.clock.Now()):
				t.Fatalf("export time %v is ahead of the clock %v", got, f.clock.Now())
			case f.clock.sleptFor() != tt.want.Sub(base):
				t.Fatalf("waited %v, want %v", f.clock.sleptFor(), tt.want.Sub(base))
			}
		})
	}
}

// TestDumpsInQuickSuccessionStayOnTheClock: dumps of one destination
// asked for a few seconds apart (re-exports, retries, a crash loop) each
// wait for the next minute instead of reserving minutes ahead: every
// receipt is named after the time its dump started.
func TestDumpsInQuickSuccessionStayOnTheClock(t *testing.T) {
	f := newFixture(t, "", "a")
	ctx := context.Background()
	now := time.Date(2024, 5, 1, 13, 34, 33, 0, time.UTC)
	var last time.Time
	for i := range 5 {
		f.clock.set(now)
		ev := event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: now.Add(-time.Hour)}
		job := fmt.Sprintf("reexport-%d", i)
		results := f.e.export(ctx, spec{jobID: job, event: ev, dests: []string{"a"}, completion: job, force: true, maxAttempt: 10})
		if results[0].status != StatusCommitted {
			t.Fatalf("dump %d: %+v", i, results)
		}
		_, ts, _ := f.receipt("a")
		switch {
		case ts.After(f.clock.Now()):
			t.Fatalf("dump %d: receipt timestamp %v is ahead of the clock %v", i, ts, f.clock.Now())
		case !last.IsZero() && !ts.Truncate(time.Minute).After(last):
			t.Fatalf("dump %d at %v shares or precedes the minute of the dump before, %v", i, ts, last)
		}
		last = ts
		now = f.clock.Now().Add(5 * time.Second)
	}
}
