package destinationtest

import (
	"testing"

	"github.com/exportd/exportd/sdk"
)

// faulty configures a fresh destination whose store fails on demand, or
// skips the test when the harness has none.
func (s *suite) faulty(t *testing.T) (sdk.Destination, Inspector, Faults) {
	t.Helper()
	if s.h.Faulty == nil {
		t.Skip("the harness injects no faults (Harness.Faulty)")
	}
	cfg, in, f := s.h.Faulty(t)
	d, err := s.configure(t, cfg)
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
	t.Cleanup(func() { f.Fail(false) })
	return d, in, f
}

// testStoreFailingDuringPuts: while the store fails, Puts fail
// retryably, never permanently: the daemon tries the export again later.
// Once it recovers, the same export delivers and commits.
func testStoreFailingDuringPuts(t *testing.T, s *suite) {
	d, in, f := s.faulty(t)
	ctx := ctxFor(t)
	dm := newDump(t, exportTime(), map[string]int{"alpha": 2, "beta": 1})
	exp, err := d.Begin(ctx, dm.Info)
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Abort(ctx)
	f.Fail(true)
	for _, sf := range dm.Files() {
		requireKind(t, exp.Put(ctx, sf.File), sdk.KindRetryable, "Put while the store fails")
	}
	f.Fail(false)
	if err := dm.PutAll(ctx, exp); err != nil {
		t.Fatalf("Puts once the store recovered: %v", err)
	}
	requireNoReceipt(t, in, "before Commit")
	rc, err := exp.Commit(ctx, dm.Manifest())
	if err != nil {
		t.Fatal(err)
	}
	requireReceipt(t, in, rc.Body, "after Commit")
	requireDelivered(t, in, dm)
}

// testStoreFailingAtCommit: a Commit that cannot write the receipt fails
// retryably and publishes nothing.
func testStoreFailingAtCommit(t *testing.T, s *suite) {
	d, in, f := s.faulty(t)
	ctx := ctxFor(t)
	dm := newDump(t, exportTime(), map[string]int{"alpha": 1})
	exp, err := d.Begin(ctx, dm.Info)
	if err != nil {
		t.Fatal(err)
	}
	if err := dm.PutAll(ctx, exp); err != nil {
		t.Fatal(err)
	}
	f.Fail(true)
	_, err = exp.Commit(ctx, dm.Manifest())
	requireKind(t, err, sdk.KindRetryable, "Commit while the store fails")
	f.Fail(false)
	requireNoReceipt(t, in, "after the failed Commit")
	if err := exp.Abort(ctx); err != nil {
		t.Fatalf("Abort after a failed Commit: %v", err)
	}
}
