package gcs

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
)

// TestFaultsAreRetried: throttling (429), server errors (500) and dropped
// connections between the plugin and Cloud Storage are retried; every file
// arrives byte-identical, and the receipt is stored once, after every file.
func TestFaultsAreRetried(t *testing.T) {
	w := newWorld(t)
	c := w.newCustomer(t, customerOptions{})
	proxy := testsupport.StartFaultProxy(t, w.g.URL, testsupport.Faults{
		SlowDown: 0.15, InternalError: 0.1, Drop: 0.15, Seed: 7, Dialect: testsupport.DialectGCS,
	})
	d, err := w.configure(t, w.config(c, map[string]any{"endpoint": proxy.URL, "max_attempts": 12}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	dm := newDump(t, exportTime(), map[string]int{"companies": 3, "events": 5, "revenue": 1})
	rc, err := exportDump(ctx, d, dm)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[testsupport.Fault]int{}
	for _, r := range proxy.Records() {
		kinds[r.Fault]++
	}
	t.Logf("%d files; %d requests, %d SlowDown (429), %d InternalError (500), %d dropped connections",
		len(dm.Files()), len(proxy.Records()), kinds[testsupport.SlowDown], kinds[testsupport.InternalError], kinds[testsupport.Drop])
	if kinds[testsupport.SlowDown] == 0 || kinds[testsupport.InternalError] == 0 || kinds[testsupport.Drop] == 0 {
		t.Fatal("not every kind of fault was injected: the test proves less than it claims")
	}
	for _, f := range dm.Files() {
		got, err := w.g.Object(c.Bucket, d.layout.FileKey(dm.Info.Time, f.Table, f.Index))
		if err != nil || !bytes.Equal(got, f.Data) {
			t.Fatalf("%s #%d: stored bytes differ from the encoded ones (%v)", f.Table, f.Index, err)
		}
	}
	if got, err := w.g.Object(c.Bucket, "dumps/receipt.json"); err != nil || !bytes.Equal(got, rc.Body) {
		t.Fatalf("receipt: %v\n%s", err, got)
	}
	requireReceiptLastAndOnce(t, proxy, w.g, d, dm)
}

// requireReceiptLastAndOnce checks, from the uploads Cloud Storage
// stored, that every data file was stored once and the receipt once,
// after all of them; and that the plugin sent nothing but uploads.
func requireReceiptLastAndOnce(t *testing.T, proxy *testsupport.FaultProxy, g *testsupport.GCS, d *destination, dm dump) {
	t.Helper()
	for _, r := range proxy.Records() {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.Path, "/upload/storage/v1/") {
			t.Errorf("the plugin sent %s %s; it may only upload", r.Method, r.Path)
		}
	}
	var stored []string
	for _, r := range g.Requests() {
		if r.Status == http.StatusOK && r.Object != "" {
			stored = append(stored, r.Object)
		}
	}
	want := map[string]bool{}
	for _, f := range dm.Files() {
		want[d.layout.FileKey(dm.Info.Time, f.Table, f.Index)] = true
	}
	if len(stored) != len(want)+1 || stored[len(stored)-1] != d.layout.ReceiptKey() {
		t.Fatalf("stored, in order: %v; want each of %d files once, then the receipt", stored, len(want))
	}
	for _, name := range stored[:len(stored)-1] {
		if !want[name] {
			t.Fatalf("%s stored twice or unexpected: %v", name, stored)
		}
		delete(want, name)
	}
}

// TestEndpointNeverRecovers: a Cloud Storage that keeps failing fails the
// Puts retryably after max_attempts each, and a Commit that fails leaves
// no receipt; once the endpoint recovers the Commit succeeds.
func TestEndpointNeverRecovers(t *testing.T) {
	w := newWorld(t)
	c := w.newCustomer(t, customerOptions{})
	proxy := testsupport.StartFaultProxy(t, w.g.URL, testsupport.Faults{Dialect: testsupport.DialectGCS})
	d, err := w.configure(t, w.config(c, map[string]any{"endpoint": proxy.URL, "max_attempts": 3}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	dm := newDump(t, exportTime(), map[string]int{"events": 2})
	exp, err := d.Begin(ctx, dm.Info)
	if err != nil {
		t.Fatal(err)
	}
	proxy.FailAlways(testsupport.SlowDown)
	before := len(proxy.Records())
	if err := exp.Put(ctx, dm.Files()[0].File); sdk.KindOf(err) != sdk.KindRetryable || err == nil {
		t.Fatalf("Put against a throttling endpoint: %v, want a retryable error", err)
	}
	if n := len(proxy.Records()) - before; n != 3 {
		t.Errorf("%d requests, want 3 attempts", n)
	}
	proxy.FailAlways(testsupport.NoFault)
	for _, f := range dm.Files() {
		if err := exp.Put(ctx, f.File); err != nil {
			t.Fatal(err)
		}
	}
	proxy.FailAlways(testsupport.Drop)
	if _, err := exp.Commit(ctx, dm.Manifest()); sdk.KindOf(err) != sdk.KindRetryable || err == nil {
		t.Fatalf("Commit against a failing endpoint: %v, want a retryable error", err)
	}
	if _, err := w.g.Object(c.Bucket, "dumps/receipt.json"); err == nil {
		t.Fatal("a failed Commit left a receipt")
	}
	proxy.FailAlways(testsupport.NoFault)
	rc, err := exp.Commit(ctx, dm.Manifest())
	if err != nil {
		t.Fatalf("Commit once the endpoint recovered: %v", err)
	}
	if got, _ := w.g.Object(c.Bucket, "dumps/receipt.json"); !bytes.Equal(got, rc.Body) {
		t.Fatal("receipt differs")
	}
}

// TestLostAnswer: Cloud Storage stores a data file but the answer is lost
// on the way back. The retry finds the object present (a create-only
// upload) and the Put succeeds: the object was stored once, whole.
func TestLostAnswer(t *testing.T) {
	w := newWorld(t)
	c := w.newCustomer(t, customerOptions{})
	var uploads atomic.Int64
	proxy := testsupport.StartFaultProxy(t, w.g.URL, testsupport.Faults{
		DropAnswer: 1, Dialect: testsupport.DialectGCS,
		Match: func(r *http.Request) bool { return uploads.Add(1) == 1 }, // the first upload only
	})
	d, err := w.configure(t, w.config(c, map[string]any{"endpoint": proxy.URL}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	dm := newDump(t, exportTime(), map[string]int{"events": 1})
	if _, err := exportDump(ctx, d, dm); err != nil {
		t.Fatalf("export after a lost answer: %v", err)
	}
	name := d.layout.FileKey(dm.Info.Time, "events", 0)
	if got, err := w.g.Object(c.Bucket, name); err != nil || !bytes.Equal(got, dm.Files()[0].Data) {
		t.Fatalf("%s: %v", name, err)
	}
	var statuses []int
	for _, r := range w.g.Requests() {
		if r.Object == name {
			statuses = append(statuses, r.Status)
		}
	}
	if !slices.Equal(statuses, []int{http.StatusOK, http.StatusPreconditionFailed}) {
		t.Fatalf("uploads of %s answered %v, want stored once then found present", name, statuses)
	}
}
