package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/jackc/pgx/v5/pgconn"
)

// summer is a RowWriter that adds up the Int64 values it gets.
type summer struct {
	counter
	sum int64
}

func (s *summer) Int64(v int64) { s.sum += v }

const (
	ledgerRows  = 50000
	ledgerStart = 1000
)

// TestSnapshotIsOneInstant moves money from ledger_a to ledger_b in
// transactions while the export runs; every transfer keeps the grand total,
// so the dump's totals add up only if both tables were read at one
// instant. Transfers go one way, so an inconsistent read always shows.
func TestSnapshotIsOneInstant(t *testing.T) {
	for _, parallel := range []int{1, 2} {
		t.Run(fmt.Sprintf("parallelism %d", parallel), func(t *testing.T) {
			pg := testsupport.SharedPostgres(t)
			db := pg.NewDatabase(t)
			pg.Exec(t, db.Name, fmt.Sprintf(`SET ROLE %s; CREATE SCHEMA acct_l;
			  CREATE TABLE acct_l.ledger_a (id int PRIMARY KEY, amount bigint NOT NULL);
			  CREATE TABLE acct_l.ledger_b (id int PRIMARY KEY, amount bigint NOT NULL);
			  INSERT INTO acct_l.ledger_a SELECT g, %d FROM generate_series(1, %d) g;
			  INSERT INTO acct_l.ledger_b SELECT g, %d FROM generate_series(1, %d) g;`,
				db.User, ledgerStart, ledgerRows, ledgerStart, ledgerRows))
			const total = 2 * ledgerRows * ledgerStart

			ctx, stop := context.WithCancel(testContext(t))
			var transfers atomic.Int64
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				moveMoney(ctx, t, pg.SocketDSN(db.Name), &transfers)
			}()
			defer func() { stop(); wg.Wait() }()
			for transfers.Load() < 20 {
				time.Sleep(5 * time.Millisecond)
			}

			s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_l\"\nparallelism = %d\ntables = [\"ledger_a\", \"ledger_b\"]\n", db.DSN, parallel))
			snap, err := s.Open(ctx, sourceRequest(ev("l")))
			if err != nil {
				t.Fatal(err)
			}
			defer snap.Close()
			atOpen := transfers.Load()
			// Each read pauses halfway, so that many transfers commit
			// between and during the reads.
			pause := func(n int) {
				if n == ledgerRows/2 {
					time.Sleep(300 * time.Millisecond)
				}
			}
			sums := make([]summer, 2)
			read := func(i int, table string) error {
				sums[i].onRow = pause
				return snap.ReadTable(ctx, table, &sums[i])
			}
			if parallel == 1 {
				for i, tbl := range []string{"ledger_a", "ledger_b"} {
					if err := read(i, tbl); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				errs := make(chan error, 2)
				for i, tbl := range []string{"ledger_a", "ledger_b"} {
					go func() { errs <- read(i, tbl) }()
				}
				for range 2 {
					if err := <-errs; err != nil {
						t.Fatal(err)
					}
				}
			}
			during := transfers.Load() - atOpen
			if during < 10 {
				t.Fatalf("only %d transfers committed during the export: the test proves nothing", during)
			}
			if got := sums[0].sum + sums[1].sum; got != total {
				t.Errorf("ledger_a %d + ledger_b %d = %d, want %d: the tables were not read at one instant", sums[0].sum, sums[1].sum, got, total)
			}
			if sums[0].sum == ledgerRows*ledgerStart {
				t.Errorf("ledger_a total %d is its initial one: the transfers before Open are missing", sums[0].sum)
			}
			if sums[0].rows != ledgerRows || sums[1].rows != ledgerRows {
				t.Errorf("rows %d and %d, want %d each", sums[0].rows, sums[1].rows, ledgerRows)
			}
			t.Logf("%d transfers during the export; ledger_a %d, ledger_b %d", during, sums[0].sum, sums[1].sum)
		})
	}
}

// moveMoney moves 1 to 10 from a row of ledger_a to a row of ledger_b, one
// transaction at a time, until ctx is done.
func moveMoney(ctx context.Context, t *testing.T, dsn string, transfers *atomic.Int64) {
	c, err := pgconn.Connect(ctx, dsn)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close(context.Background())
	for i := 0; ctx.Err() == nil; i++ {
		from, to, x := 1+i*7919%ledgerRows, 1+i*104729%ledgerRows, 1+i%10
		_, err := c.Exec(ctx, fmt.Sprintf(`BEGIN;
		  UPDATE acct_l.ledger_a SET amount = amount - %d WHERE id = %d;
		  UPDATE acct_l.ledger_b SET amount = amount + %d WHERE id = %d;
		  COMMIT`, x, from, x, to)).ReadAll()
		if err != nil {
			if ctx.Err() == nil {
				t.Error(err)
			}
			return
		}
		transfers.Add(1)
	}
}

// TestSnapshotIgnoresLaterCommits: rows committed after Open are not in the
// dump, even in a table read later.
func TestSnapshotIgnoresLaterCommits(t *testing.T) {
	pg := testsupport.SharedPostgres(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db.Name, `SET ROLE `+db.User+`; CREATE SCHEMA acct_s; CREATE TABLE acct_s.t (id int); INSERT INTO acct_s.t VALUES (1), (2);`)
	s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_s\"\ntables = [\"t\"]\n", db.DSN))
	ctx := testContext(t)
	snap, err := s.Open(ctx, sourceRequest(ev("s")))
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	pg.Exec(t, db.Name, `INSERT INTO acct_s.t VALUES (3); DELETE FROM acct_s.t WHERE id = 1`)
	r := &recorder{}
	if err := snap.ReadTable(ctx, "t", r); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(r.rows) != "[[1] [2]]" {
		t.Errorf("rows %v, want [[1] [2]] as at Open", r.rows)
	}
}
