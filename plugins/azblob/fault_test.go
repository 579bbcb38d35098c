package azblob

import (
	"bytes"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
)

// TestFaultsAreRetried: throttling (503 ServerBusy), server errors (500)
// and dropped connections between the plugin and Azure Storage are
// retried; every file arrives byte-identical, and the receipt is stored
// once, after every file.
func TestFaultsAreRetried(t *testing.T) {
	a := testsupport.StartAzurite(t)
	c := a.NewContainer(t)
	proxy := testsupport.StartFaultProxy(t, a.BaseURL, testsupport.Faults{
		SlowDown: 0.15, InternalError: 0.1, Drop: 0.15, Seed: 11, Dialect: testsupport.DialectAzure,
	})
	endpoint := proxy.URL + "/" + testsupport.AzuriteAccount
	d, err := configure(t, config(a, c, a.SAS(t, c, writeOnly, time.Now().Add(time.Hour), testsupport.AzuriteKey),
		map[string]any{"endpoint": endpoint, "max_attempts": 12}))
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
	t.Logf("%d files; %d requests, %d ServerBusy (503), %d InternalError (500), %d dropped connections",
		len(dm.Files()), len(proxy.Records()), kinds[testsupport.SlowDown], kinds[testsupport.InternalError], kinds[testsupport.Drop])
	if kinds[testsupport.SlowDown] == 0 || kinds[testsupport.InternalError] == 0 || kinds[testsupport.Drop] == 0 {
		t.Fatal("not every kind of fault was injected: the test proves less than it claims")
	}
	for _, f := range dm.Files() {
		got, err := a.Blob(ctx, c, d.layout.FileKey(dm.Info.Time, f.Table, f.Index))
		if err != nil || !bytes.Equal(got, f.Data) {
			t.Fatalf("%s #%d: stored bytes differ from the encoded ones (%v)", f.Table, f.Index, err)
		}
	}
	if got, err := a.Blob(ctx, c, "dumps/receipt.json"); err != nil || !bytes.Equal(got, rc.Body) {
		t.Fatalf("receipt: %v\n%s", err, got)
	}

	// From the requests Azurite answered 201: each file once, then the
	// receipt once, last; and nothing but Put Blob.
	prefix := "/" + testsupport.AzuriteAccount + "/" + c + "/"
	var stored []string
	for _, r := range proxy.Records() {
		if r.Method != http.MethodPut {
			t.Errorf("the plugin sent %s %s; it may only put blobs", r.Method, r.Path)
		}
		if r.Fault == testsupport.NoFault && r.Status == http.StatusCreated {
			name, _ := url.PathUnescape(r.Path[len(prefix):])
			stored = append(stored, name)
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

// TestEndpointNeverRecovers: a storage account that keeps throttling
// fails a Put retryably after max_attempts, and a failed Commit leaves no
// receipt; once it recovers, the Commit succeeds.
func TestEndpointNeverRecovers(t *testing.T) {
	a := testsupport.StartAzurite(t)
	c := a.NewContainer(t)
	proxy := testsupport.StartFaultProxy(t, a.BaseURL, testsupport.Faults{Dialect: testsupport.DialectAzure})
	d, err := configure(t, config(a, c, a.SAS(t, c, writeOnly, time.Now().Add(time.Hour), testsupport.AzuriteKey),
		map[string]any{"endpoint": proxy.URL + "/" + testsupport.AzuriteAccount, "max_attempts": 3}))
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
	if err := exp.Put(ctx, dm.Files()[0].File); err == nil || sdk.KindOf(err) != sdk.KindRetryable {
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
	if _, err := exp.Commit(ctx, dm.Manifest()); err == nil || sdk.KindOf(err) != sdk.KindRetryable {
		t.Fatalf("Commit against a failing endpoint: %v, want a retryable error", err)
	}
	if _, err := a.Blob(ctx, c, "dumps/receipt.json"); err == nil {
		t.Fatal("a failed Commit left a receipt")
	}
	proxy.FailAlways(testsupport.NoFault)
	rc, err := exp.Commit(ctx, dm.Manifest())
	if err != nil {
		t.Fatalf("Commit once the endpoint recovered: %v", err)
	}
	if got, _ := a.Blob(ctx, c, "dumps/receipt.json"); !bytes.Equal(got, rc.Body) {
		t.Fatal("receipt differs")
	}
}

// TestLostAnswer: Azure stores a blob but the answer is lost on the way
// back. The retry writes the same bytes again (a SAS with write may
// replace), and the Put succeeds.
func TestLostAnswer(t *testing.T) {
	a := testsupport.StartAzurite(t)
	c := a.NewContainer(t)
	var puts atomic.Int64
	proxy := testsupport.StartFaultProxy(t, a.BaseURL, testsupport.Faults{
		DropAnswer: 1, Dialect: testsupport.DialectAzure,
		Match: func(*http.Request) bool { return puts.Add(1) == 1 }, // the first request only
	})
	d, err := configure(t, config(a, c, a.SAS(t, c, writeOnly, time.Now().Add(time.Hour), testsupport.AzuriteKey),
		map[string]any{"endpoint": proxy.URL + "/" + testsupport.AzuriteAccount}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	dm := newDump(t, exportTime(), map[string]int{"events": 1})
	if _, err := exportDump(ctx, d, dm); err != nil {
		t.Fatalf("export after a lost answer: %v", err)
	}
	name := d.layout.FileKey(dm.Info.Time, "events", 0)
	if got, err := a.Blob(ctx, c, name); err != nil || !bytes.Equal(got, dm.Files()[0].Data) {
		t.Fatalf("%s: %v", name, err)
	}
	if r := proxy.Records()[0]; r.Fault != testsupport.DropAnswer || r.Status != http.StatusCreated {
		t.Fatalf("first request: %+v, want a stored blob whose answer was dropped", r)
	}
}
