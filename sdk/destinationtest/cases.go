package destinationtest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/exportd/exportd/sdk"
)

func testSchema(t *testing.T, s *suite) {
	sc := s.client.Schema()
	if err := sc.Validate(); err != nil {
		t.Fatalf("schema: %v", err)
	}
	if sc.Version == "" {
		t.Error("schema has no version")
	}
	for _, a := range sc.Attributes {
		if a.Description == "" {
			t.Errorf("attribute %s has no description", a.Name)
		}
	}
}

func testUnknownAttribute(t *testing.T, s *suite) {
	cfg, _ := s.h.New(t)
	cfg["no_such_attribute"] = "x"
	_, err := s.configure(t, cfg)
	RequireConfigError(t, err, "no_such_attribute")
}

// testConstraints: a value outside an attribute's Enum or range is
// refused naming the attribute, whatever the rest of the configuration.
func testConstraints(t *testing.T, s *suite) {
	for _, a := range s.client.Schema().Attributes {
		var bad any
		switch {
		case len(a.Enum) > 0 && a.Type == sdk.TypeString:
			bad = "not-one-of-the-values"
		case len(a.Enum) > 0 && a.Type == sdk.TypeStringList:
			bad = []string{"not-one-of-the-values"}
		case a.Max != nil:
			bad = *a.Max + 1
		case a.Min != nil:
			bad = *a.Min - 1
		case a.Type == sdk.TypeInteger:
			bad = 1.5
		default:
			continue
		}
		t.Run(a.Name, func(t *testing.T) {
			cfg, _ := s.h.New(t)
			cfg[a.Name] = bad
			_, err := s.configure(t, cfg)
			RequireConfigError(t, err, a.Name)
		})
	}
}

func testInvalidConfigs(t *testing.T, s *suite) {
	for _, c := range s.h.Invalid {
		t.Run(c.Name, func(t *testing.T) {
			_, err := s.configure(t, c.Config)
			RequireConfigError(t, err, c.Attribute)
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
		})
	}
}

func testCheck(t *testing.T, s *suite) {
	d, _ := s.destination(t)
	msg, err := d.Check(ctxFor(t))
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if msg == "" {
		t.Fatal("Check returned an empty verdict")
	}
}

func testBrokenSetups(t *testing.T, s *suite) {
	for _, b := range s.h.Broken {
		t.Run(b.Name, func(t *testing.T) {
			d, err := s.configure(t, b.New(t))
			if err != nil {
				t.Fatalf("Configure refused a valid configuration: %v", err)
			}
			_, err = d.Check(ctxFor(t))
			RequireConfigError(t, err, b.Attribute)
			if sdk.IsPlatformError(err) != b.Platform {
				t.Fatalf("error %v: platform identity at fault %t, want %t", err, sdk.IsPlatformError(err), b.Platform)
			}
		})
	}
}

func testFullExport(t *testing.T, s *suite) {
	d, in := s.destination(t)
	ctx := ctxFor(t)
	dm := newDump(t, exportTime(), map[string]int{"alpha": 5, "beta": 1, "gamma": 2})
	requireNoReceipt(t, in, "before the export")
	exp, err := d.Begin(ctx, dm.Info)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if err := dm.PutAll(ctx, exp); err != nil {
		t.Fatal(err)
	}
	// Every file is durable once Put returns, and nothing is published yet.
	requireDelivered(t, in, dm)
	requireNoReceipt(t, in, "after every Put, before Commit")
	rc, err := exp.Commit(ctx, dm.Manifest())
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if len(rc.Body) == 0 || rc.Location == "" {
		t.Fatalf("Commit returned an empty receipt or location: %+v", rc)
	}
	got, err := in.Receipt(ctx)
	if err != nil {
		t.Fatalf("read receipt: %v", err)
	}
	if !bytes.Equal(got, rc.Body) {
		t.Fatalf("visible receipt differs from the one Commit returned:\n%s\nvs\n%s", got, rc.Body)
	}
	requireSpoolUntouched(t, dm)
	if err := exp.Abort(ctx); err != nil {
		t.Fatalf("Abort after Commit: %v", err)
	}
	if again, _ := in.Receipt(ctx); !bytes.Equal(again, rc.Body) {
		t.Fatal("Abort after Commit changed the receipt")
	}
}

func testLaterDump(t *testing.T, s *suite) {
	d, in := s.destination(t)
	t1 := exportTime()
	first := newDump(t, t1, map[string]int{"alpha": 2, "beta": 1})
	commit(t, d, first)

	second := newDump(t, t1.Add(2*time.Minute), map[string]int{"alpha": 1, "beta": 3})
	second.Info.PreviousTime = t1
	rc := commit(t, d, second)
	requireReceipt(t, in, rc.Body, "after the later dump")
	// Earlier dumps are never deleted: the customer's lifecycle rule does that.
	requireDelivered(t, in, first)
	requireDelivered(t, in, second)
}

// testOlderCommitAfterNewer: two exports in flight; the newer commits
// first, and the older one's Commit is refused, leaving the newer receipt.
func testOlderCommitAfterNewer(t *testing.T, s *suite) {
	d, in := s.destination(t)
	ctx := ctxFor(t)
	t1 := exportTime()
	older := newDump(t, t1, map[string]int{"alpha": 1})
	newer := newDump(t, t1.Add(2*time.Minute), map[string]int{"alpha": 2})
	olderExp, err := d.Begin(ctx, older.Info)
	if err != nil {
		t.Fatal(err)
	}
	defer olderExp.Abort(ctx)
	if err := older.PutAll(ctx, olderExp); err != nil {
		t.Fatal(err)
	}
	latest := commit(t, d, newer)
	_, err = olderExp.Commit(ctx, older.Manifest())
	requireKind(t, err, sdk.KindPermanent, "Commit of an older dump after a newer one")
	requireReceipt(t, in, latest.Body, "after the older dump's refused Commit")
}

func testAbort(t *testing.T, s *suite) {
	d, in := s.destination(t)
	ctx := ctxFor(t)
	dm := newDump(t, exportTime(), map[string]int{"alpha": 2})
	exp, err := d.Begin(ctx, dm.Info)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Put(ctx, dm.Tables["alpha"][0].File); err != nil {
		t.Fatal(err)
	}
	if err := exp.Abort(ctx); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if err := exp.Abort(ctx); err != nil {
		t.Fatalf("second Abort: %v", err)
	}
	requireNoReceipt(t, in, "after Abort")
	if _, err := exp.Commit(ctx, dm.Manifest()); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
	requireNoReceipt(t, in, "after Commit following Abort")
}

func testIncompleteCommit(t *testing.T, s *suite) {
	d, in := s.destination(t)
	ctx := ctxFor(t)
	dm := newDump(t, exportTime(), map[string]int{"alpha": 3, "beta": 1})
	exp, err := d.Begin(ctx, dm.Info)
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Abort(ctx)
	// File 1 of alpha never arrives.
	for _, f := range []sdk.File{dm.Tables["alpha"][0].File, dm.Tables["alpha"][2].File, dm.Tables["beta"][0].File} {
		if err := exp.Put(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	_, err = exp.Commit(ctx, dm.Manifest())
	requireKind(t, err, sdk.KindPermanent, "Commit with a missing file")
	requireNoReceipt(t, in, "after a refused Commit")

	// A manifest that leaves a table out is refused too.
	m := dm.Manifest()
	m.Tables = m.Tables[1:]
	_, err = exp.Commit(ctx, m)
	requireKind(t, err, sdk.KindPermanent, "Commit omitting a table")
	requireNoReceipt(t, in, "after a refused Commit")
}

func testChecksumMismatch(t *testing.T, s *suite) {
	d, in := s.destination(t)
	ctx := ctxFor(t)
	dm := newDump(t, exportTime(), map[string]int{"alpha": 1})
	exp, err := d.Begin(ctx, dm.Info)
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Abort(ctx)
	f := dm.Tables["alpha"][0].File
	f.SHA256 = bytes.Repeat([]byte{0xab}, 32)
	if err := exp.Put(ctx, f); err == nil {
		t.Fatal("Put of a file whose bytes do not match its SHA-256 succeeded")
	}
	requireAbsent(t, in, dm.Info, "alpha", 0)
}

func testSameMinute(t *testing.T, s *suite) {
	d, _ := s.destination(t)
	now := time.Now().UTC().Truncate(time.Minute).Add(30 * time.Second)
	info := sdk.ExportInfo{ID: "same-minute", Account: "conformance", RunID: "r", Time: now, Tables: []string{"alpha"}, PreviousTime: now.Add(-10 * time.Second)}
	_, err := d.Begin(ctxFor(t), info)
	requireKind(t, err, sdk.KindPermanent, "Begin in the previous dump's minute")
	info.PreviousTime = now.Add(time.Hour)
	_, err = d.Begin(ctxFor(t), info)
	requireKind(t, err, sdk.KindPermanent, "Begin before the previous dump")
}

func testCancelledPut(t *testing.T, s *suite) {
	d, _ := s.destination(t)
	dm := newDump(t, exportTime(), map[string]int{"alpha": 1})
	exp, err := d.Begin(ctxFor(t), dm.Info)
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Abort(ctxFor(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	err = exp.Put(ctx, dm.Tables["alpha"][0].File)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a cancelled context: %v, want context.Canceled", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("Put took %v to notice cancellation", time.Since(start))
	}
}
