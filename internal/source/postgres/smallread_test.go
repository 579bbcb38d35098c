package postgres

import (
	"fmt"
	"runtime"
	"testing"
)

// TestSmallTableReadAllocatesLittle: reading a ten-row table allocates
// kilobytes, not the megabytes of full read-ahead batches.
func TestSmallTableReadAllocatesLittle(t *testing.T) {
	_, db := failureDB(t)
	s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_f\"\ntables = [\"small\"]\n", db.DSN))
	ctx := testContext(t)
	snap, err := s.Open(ctx, sourceRequest(ev("f")))
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if err := snap.ReadTable(ctx, "small", &counter{}); err != nil { // connects the reader
		t.Fatal(err)
	}
	const reads = 5
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range reads {
		if err := snap.ReadTable(ctx, "small", &counter{}); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / reads; per > 512<<10 {
		t.Fatalf("reading ten rows allocated %d bytes", per)
	}
}
