package destinationtest

import (
	"bytes"
	"testing"
	"time"

	"github.com/exportd/exportd/sdk"
)

// recommitOf is the Begin of a recommit of d: the same export time and
// tables, no files.
func recommitOf(d Dump, previous time.Time) sdk.ExportInfo {
	info := d.Info
	info.ID += "-recommit"
	info.Recommit = true
	info.PreviousTime = previous
	return info
}

// testRecommitAfterCommit: the daemon died after Commit wrote the receipt
// and before it recorded that; its recommit writes the same receipt again.
func testRecommitAfterCommit(t *testing.T, s *suite) {
	d, in := s.destination(t)
	ctx := ctxFor(t)
	dm := newDump(t, exportTime(), map[string]int{"alpha": 3, "beta": 1})
	first := commit(t, d, dm)

	exp, err := d.Begin(ctx, recommitOf(dm, time.Time{}))
	if err != nil {
		t.Fatalf("Begin a recommit: %v", err)
	}
	if err := exp.Put(ctx, dm.Tables["alpha"][0].File); sdk.KindOf(err) != sdk.KindPermanent {
		t.Fatalf("Put in a recommit: %v, want a permanent refusal", err)
	}
	again, err := exp.Commit(ctx, dm.Manifest())
	if err != nil {
		t.Fatalf("recommit: %v", err)
	}
	if !bytes.Equal(again.Body, first.Body) || again.Location != first.Location {
		t.Fatalf("the recommit wrote another receipt:\n%s\nthan the commit:\n%s", again.Body, first.Body)
	}
	if got, _ := in.Receipt(ctx); !bytes.Equal(got, first.Body) {
		t.Fatalf("visible receipt after the recommit:\n%s", got)
	}
	requireDelivered(t, in, dm)
}

// testRecommitBeforeCommit: the daemon died after every Put and before
// Commit; the recommit publishes the dump the files make up.
func testRecommitBeforeCommit(t *testing.T, s *suite) {
	d, in := s.destination(t)
	ctx := ctxFor(t)
	dm := newDump(t, exportTime(), map[string]int{"alpha": 2, "beta": 1})
	exp, err := d.Begin(ctx, dm.Info)
	if err != nil {
		t.Fatal(err)
	}
	if err := dm.PutAll(ctx, exp); err != nil {
		t.Fatal(err)
	}
	// The attempt is abandoned: no Commit, no Abort.
	requireNoReceipt(t, in, "after the abandoned attempt")

	exp, err = d.Begin(ctx, recommitOf(dm, time.Time{}))
	if err != nil {
		t.Fatalf("Begin a recommit: %v", err)
	}
	rc, err := exp.Commit(ctx, dm.Manifest())
	if err != nil {
		t.Fatalf("recommit: %v", err)
	}
	if got, _ := in.Receipt(ctx); !bytes.Equal(got, rc.Body) {
		t.Fatalf("visible receipt differs from the one the recommit returned:\n%s", got)
	}
	requireDelivered(t, in, dm)
}

// testRecommitNeverGoesBack: once a later dump is committed, a recommit of
// an earlier one is refused and the later receipt stays.
func testRecommitNeverGoesBack(t *testing.T, s *suite) {
	d, in := s.destination(t)
	ctx := ctxFor(t)
	t1 := exportTime()
	older := newDump(t, t1, map[string]int{"alpha": 1})
	commit(t, d, older)
	newer := newDump(t, t1.Add(2*time.Minute), map[string]int{"alpha": 2})
	newer.Info.PreviousTime = t1
	latest := commit(t, d, newer)

	exp, err := d.Begin(ctx, recommitOf(older, time.Time{}))
	if err == nil {
		_, err = exp.Commit(ctx, older.Manifest())
	}
	requireKind(t, err, sdk.KindPermanent, "recommit of a dump older than the visible receipt")
	if got, _ := in.Receipt(ctx); !bytes.Equal(got, latest.Body) {
		t.Fatalf("a recommit of an older dump replaced the receipt:\n%s", got)
	}
}

// testCarriedTables: a re-export of one table commits a receipt that
// names the other table's files of the earlier dump, which stay.
func testCarriedTables(t *testing.T, s *suite) {
	d, in := s.destination(t)
	ctx := ctxFor(t)
	t1 := exportTime()
	full := newDump(t, t1, map[string]int{"alpha": 2, "beta": 3})
	first := commit(t, d, full)

	part := newDump(t, t1.Add(2*time.Minute), map[string]int{"alpha": 1})
	part.Info.PreviousTime = t1
	exp, err := d.Begin(ctx, part.Info)
	if err != nil {
		t.Fatal(err)
	}
	if err := part.PutAll(ctx, exp); err != nil {
		t.Fatal(err)
	}
	m := part.Manifest()
	beta := full.Manifest().Tables[1]
	beta.Carried = t1
	m.Tables = append(m.Tables, beta)
	rc, err := exp.Commit(ctx, m)
	if err != nil {
		t.Fatalf("Commit with a carried table: %v", err)
	}
	if bytes.Equal(rc.Body, first.Body) {
		t.Fatal("the receipt did not change")
	}
	if got, _ := in.Receipt(ctx); !bytes.Equal(got, rc.Body) {
		t.Fatalf("visible receipt differs from the one Commit returned:\n%s", got)
	}
	requireDelivered(t, in, full)
	requireDelivered(t, in, part)
}
