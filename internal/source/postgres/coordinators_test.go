package postgres

import (
	"fmt"
	"testing"
	"time"
)

// TestCoordinatorsAreKept: a closed snapshot's coordinator connection
// serves the next snapshot, with its transaction ended and its locks
// released meanwhile; a kept connection that the server ended while it
// was idle is replaced without the export noticing.
func TestCoordinatorsAreKept(t *testing.T) {
	pg, db := failureDB(t)
	checkNoConnections(t, pg, db.User)
	s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_f\"\ntables = [\"small\"]\n", db.DSN))
	ctx := testContext(t)
	open := func() (pid uint32) {
		t.Helper()
		snap, err := s.Open(ctx, sourceRequest(ev("f")))
		if err != nil {
			t.Fatal(err)
		}
		pid = snap.(*snapshot).coord.PgConn().PID()
		if err := snap.ReadTable(ctx, "small", &counter{}); err != nil {
			t.Fatal(err)
		}
		snap.Close()
		return pid
	}
	first := open()
	// Idle, with no transaction and no lock.
	state := pg.ExecScalar(t, "postgres", fmt.Sprintf("SELECT state FROM pg_stat_activity WHERE pid = %d", first))
	locks := pg.ExecScalar(t, "postgres", fmt.Sprintf("SELECT count(*) FROM pg_locks WHERE pid = %d AND relation IS NOT NULL", first))
	if state != "idle" || locks != "0" {
		t.Fatalf("the kept coordinator is %q with %s locks, want idle with none", state, locks)
	}
	if again := open(); again != first {
		t.Fatalf("the second snapshot connected anew (backend %d, kept %d)", again, first)
	}
	// The server ends the kept connection while it waits.
	pg.ExecScalar(t, "postgres", fmt.Sprintf("SELECT pg_terminate_backend(%d)", first))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n := pg.ExecScalar(t, "postgres", fmt.Sprintf("SELECT count(*) FROM pg_stat_activity WHERE pid = %d", first)); n == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the terminated backend outlived pg_terminate_backend by 10s")
		}
	}
	if third := open(); third == first {
		t.Fatal("the snapshot used the terminated connection")
	}
}
