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
	_, err := s.client.Configure(ctxFor(t), sdk.DestinationInfo{Name: "conformance-unknown", Account: "conformance"}, sdk.NewConfig(cfg))
	requireKind(t, err, sdk.KindConfiguration, "Configure with an unknown attribute")
	if got := sdk.AttributeOf(err); got != "no_such_attribute" {
		t.Fatalf("error names attribute %q, want no_such_attribute (%v)", got, err)
	}
}

func testInvalidConfigs(t *testing.T, s *suite) {
	for _, c := range s.h.Invalid {
		t.Run(c.Name, func(t *testing.T) {
			_, err := s.client.Configure(ctxFor(t), sdk.DestinationInfo{Name: "conformance-invalid", Account: "conformance"}, sdk.NewConfig(c.Config))
			requireKind(t, err, sdk.KindConfiguration, "Configure("+c.Name+")")
			if got := sdk.AttributeOf(err); got != c.Attribute {
				t.Fatalf("error names attribute %q, want %q (%v)", got, c.Attribute, err)
			}
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

var threeTables = []string{"alpha", "beta", "gamma"}

func testFullExport(t *testing.T, s *suite) {
	d, in := s.destination(t)
	ctx := ctxFor(t)
	dm := newDump(t, exportTime(), map[string]int{"alpha": 5, "beta": 1, "gamma": 2}, threeTables)
	requireNoReceipt(t, in, "before the export")
	exp, err := d.Begin(ctx, dm.info)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if err := putAll(ctx, exp, dm); err != nil {
		t.Fatal(err)
	}
	// Every file is durable once Put returns, and nothing is published yet.
	requireDelivered(t, in, dm)
	requireNoReceipt(t, in, "after every Put, before Commit")
	rc, err := exp.Commit(ctx, dm.manifest())
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

func commit(t *testing.T, d sdk.Destination, dm dump) sdk.Receipt {
	t.Helper()
	ctx := ctxFor(t)
	exp, err := d.Begin(ctx, dm.info)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if err := putAll(ctx, exp, dm); err != nil {
		t.Fatal(err)
	}
	rc, err := exp.Commit(ctx, dm.manifest())
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return rc
}

func testLaterDump(t *testing.T, s *suite) {
	d, in := s.destination(t)
	t1 := exportTime()
	first := newDump(t, t1, map[string]int{"alpha": 2, "beta": 1}, []string{"alpha", "beta"})
	commit(t, d, first)

	second := newDump(t, t1.Add(2*time.Minute), map[string]int{"alpha": 1, "beta": 3}, []string{"alpha", "beta"})
	second.info.PreviousTime = t1
	rc := commit(t, d, second)

	got, err := in.Receipt(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, rc.Body) {
		t.Fatalf("receipt is not the later dump's:\n%s", got)
	}
	// Earlier dumps are never deleted: the customer's lifecycle rule does that.
	requireDelivered(t, in, first)
	requireDelivered(t, in, second)
}

func testAbort(t *testing.T, s *suite) {
	d, in := s.destination(t)
	ctx := ctxFor(t)
	dm := newDump(t, exportTime(), map[string]int{"alpha": 2}, []string{"alpha"})
	exp, err := d.Begin(ctx, dm.info)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Put(ctx, dm.tables["alpha"][0].File); err != nil {
		t.Fatal(err)
	}
	if err := exp.Abort(ctx); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if err := exp.Abort(ctx); err != nil {
		t.Fatalf("second Abort: %v", err)
	}
	requireNoReceipt(t, in, "after Abort")
	if _, err := exp.Commit(ctx, dm.manifest()); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
	requireNoReceipt(t, in, "after Commit following Abort")
}

func testIncompleteCommit(t *testing.T, s *suite) {
	d, in := s.destination(t)
	ctx := ctxFor(t)
	dm := newDump(t, exportTime(), map[string]int{"alpha": 3, "beta": 1}, []string{"alpha", "beta"})
	exp, err := d.Begin(ctx, dm.info)
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Abort(ctx)
	// File 1 of alpha never arrives.
	for _, f := range []sdk.File{dm.tables["alpha"][0].File, dm.tables["alpha"][2].File, dm.tables["beta"][0].File} {
		if err := exp.Put(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	_, err = exp.Commit(ctx, dm.manifest())
	requireKind(t, err, sdk.KindPermanent, "Commit with a missing file")
	requireNoReceipt(t, in, "after a refused Commit")

	// A manifest that leaves a table out is refused too.
	m := dm.manifest()
	m.Tables = m.Tables[1:]
	_, err = exp.Commit(ctx, m)
	requireKind(t, err, sdk.KindPermanent, "Commit omitting a table")
	requireNoReceipt(t, in, "after a refused Commit")
}

func testChecksumMismatch(t *testing.T, s *suite) {
	d, in := s.destination(t)
	ctx := ctxFor(t)
	dm := newDump(t, exportTime(), map[string]int{"alpha": 1}, []string{"alpha"})
	exp, err := d.Begin(ctx, dm.info)
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Abort(ctx)
	f := dm.tables["alpha"][0].File
	f.SHA256 = bytes.Repeat([]byte{0xab}, 32)
	if err := exp.Put(ctx, f); err == nil {
		t.Fatal("Put of a file whose bytes do not match its SHA-256 succeeded")
	}
	requireAbsent(t, in, dm.info, "alpha", 0)
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
	dm := newDump(t, exportTime(), map[string]int{"alpha": 1}, []string{"alpha"})
	exp, err := d.Begin(ctxFor(t), dm.info)
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Abort(ctxFor(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	err = exp.Put(ctx, dm.tables["alpha"][0].File)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a cancelled context: %v, want context.Canceled", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("Put took %v to notice cancellation", time.Since(start))
	}
}
