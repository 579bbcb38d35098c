package postgres

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestLargeTablesLeaveAReader: with two reader connections, a large
// table's read (by the planner's statistics) that holds one of them makes
// the next large table's read wait, so that a small table's read, of
// another export, still finds a connection and finishes while the large
// one is held.
func TestLargeTablesLeaveAReader(t *testing.T) {
	pg, db := failureDB(t)
	pg.Exec(t, db.Name, "ANALYZE acct_f.big")
	s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_f\"\ntables = [\"small\", \"big\"]\nparallelism = 2\n", db.DSN))
	ctx := testContext(t)
	large, err := s.Open(ctx, sourceRequest(ev("f")))
	if err != nil {
		t.Fatal(err)
	}
	defer large.Close()
	if !large.(*snapshot).reads["big"].large || large.(*snapshot).reads["small"].large {
		t.Fatal("the tables are not told apart by size")
	}
	held, release := make(chan struct{}), make(chan struct{})
	letGo := sync.OnceFunc(func() { close(release) })
	defer letGo() // on a failure too, so that the reads end
	first := make(chan error, 1)
	go func() {
		first <- large.ReadTable(ctx, "big", &counter{onRow: func(n int) {
			if n == 1 {
				close(held)
				<-release
			}
		}})
	}()
	<-held
	// The second large read stops at its first row too, should it get a
	// connection.
	second := make(chan error, 1)
	go func() {
		second <- large.ReadTable(ctx, "big", &counter{onRow: func(n int) {
			if n == 1 {
				<-release
			}
		}})
	}()

	small, err := s.Open(ctx, sourceRequest(ev("f")))
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	done := make(chan error, 1)
	go func() { done <- small.ReadTable(ctx, "small", &counter{}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a small table's read waited behind the large ones")
	}
	letGo()
	for _, ch := range []chan error{first, second} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
}
