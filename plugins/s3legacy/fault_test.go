package s3legacy

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
)

// These tests run the plugin in process (so that retries wait
// milliseconds) against moto with IAM enforced, through a proxy that fails
// a share of S3 requests the way S3 and networks do. The role is assumed
// from moto's STS directly.

// motoDestination configures an in-process destination for customer c
// with moto's platform identity as the process's own AWS identity.
func motoDestination(t *testing.T, m *testsupport.Moto, c testsupport.MotoCustomer, extra map[string]any) *destination {
	t.Helper()
	for _, kv := range m.PlatformEnv() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return configure(t, testPlugin(t, nil), motoConfig(m, c, extra))
}

// successfulPuts lists the paths of the PUTs the upstream accepted, in the
// order it accepted them, and fails on any other kind of request.
func successfulPuts(t *testing.T, p *testsupport.FaultProxy) []string {
	t.Helper()
	var paths []string
	for _, r := range p.Records() {
		if r.Method != http.MethodPut {
			t.Errorf("the plugin sent %s %s; it may only put objects", r.Method, r.Path)
		}
		if r.Fault == testsupport.NoFault && r.Status == http.StatusOK {
			paths = append(paths, r.Path)
		}
	}
	return paths
}

func TestFaultsAreRetried(t *testing.T) {
	m := testsupport.SharedMoto(t)
	c := m.NewCustomer(t, testsupport.CustomerOptions{})
	proxy := testsupport.StartFaultProxy(t, m.Endpoint, testsupport.Faults{SlowDown: 0.15, InternalError: 0.1, Drop: 0.15, Seed: 42})
	d := motoDestination(t, m, c, map[string]any{"endpoint": proxy.URL, "max_attempts": 12, "folder": "exports"})
	ctx := testContext(t)
	dm := encodeDump(t, exportTime(), 1, 64<<10)
	rc := exportDump(ctx, t, d, dm)

	injected := proxy.Injected()
	kinds := map[testsupport.Fault]int{}
	for _, r := range proxy.Records() {
		kinds[r.Fault]++
	}
	t.Logf("%d files of %d bytes; %d requests, %d faults injected and retried (%d SlowDown, %d InternalError, %d dropped connections)",
		len(dm.files()), dm.bytes(), len(proxy.Records()), injected, kinds[testsupport.SlowDown], kinds[testsupport.InternalError], kinds[testsupport.Drop])
	if kinds[testsupport.SlowDown] == 0 || kinds[testsupport.InternalError] == 0 || kinds[testsupport.Drop] == 0 {
		t.Fatal("not every kind of fault was injected: the test proves less than it claims")
	}
	for _, f := range dm.files() {
		got, err := m.Object(ctx, c.Bucket, d.layout.FileKey(dm.info.Time, f.Table, f.Index))
		if err != nil || !bytes.Equal(got, f.data) {
			t.Fatalf("%s #%d: stored bytes differ from the encoded ones (%v)", f.Table, f.Index, err)
		}
	}
	if got, err := m.Object(ctx, c.Bucket, "exports/receipt.json"); err != nil || !bytes.Equal(got, rc.Body) {
		t.Fatalf("receipt: %v\n%s", err, got)
	}

	// The receipt was stored once, after every data file.
	puts := successfulPuts(t, proxy)
	receiptPath := "/" + c.Bucket + "/exports/receipt.json"
	if n := strings.Count(strings.Join(puts, "\n")+"\n", receiptPath+"\n"); n != 1 {
		t.Fatalf("receipt stored %d times", n)
	}
	if puts[len(puts)-1] != receiptPath {
		t.Fatalf("last stored object is %s, not the receipt", puts[len(puts)-1])
	}
	for _, f := range dm.files() {
		if !slices.Contains(puts[:len(puts)-1], "/"+c.Bucket+"/"+d.layout.FileKey(dm.info.Time, f.Table, f.Index)) {
			t.Fatalf("%s #%d was not stored before the receipt", f.Table, f.Index)
		}
	}
}

func TestEndpointNeverRecovers(t *testing.T) {
	m := testsupport.SharedMoto(t)
	c := m.NewCustomer(t, testsupport.CustomerOptions{})
	proxy := testsupport.StartFaultProxy(t, m.Endpoint, testsupport.Faults{})
	d := motoDestination(t, m, c, map[string]any{"endpoint": proxy.URL, "max_attempts": 3})
	ctx := testContext(t)

	t.Run("uploads fail", func(t *testing.T) {
		proxy.FailAlways(testsupport.InternalError)
		defer proxy.FailAlways(testsupport.NoFault)
		dm := encodeDump(t, exportTime(), 0.02, 1<<20)
		exp, err := d.Begin(ctx, dm.info)
		if err != nil {
			t.Fatal(err)
		}
		before := len(proxy.Records())
		err = putAll(ctx, exp, dm)
		if err == nil || sdk.KindOf(err) != sdk.KindRetryable {
			t.Fatalf("Puts against a failing endpoint: %v, want retryable errors", err)
		}
		if n := len(proxy.Records()) - before; n != 3*len(dm.files()) {
			t.Errorf("%d requests for %d files, want 3 attempts each", n, len(dm.files()))
		}
		if err := exp.Abort(ctx); err != nil {
			t.Fatal(err)
		}
		if keys, _ := m.Keys(ctx, c.Bucket); len(keys) != 0 {
			t.Fatalf("objects after a failed export: %v", keys)
		}
	})

	t.Run("receipt fails, then succeeds once", func(t *testing.T) {
		dm := encodeDump(t, exportTime(), 0.02, 1<<20)
		exp, err := d.Begin(ctx, dm.info)
		if err != nil {
			t.Fatal(err)
		}
		if err := putAll(ctx, exp, dm); err != nil {
			t.Fatal(err)
		}
		proxy.FailAlways(testsupport.Drop)
		_, err = exp.Commit(ctx, dm.manifest())
		proxy.FailAlways(testsupport.NoFault)
		if sdk.KindOf(err) != sdk.KindRetryable {
			t.Fatalf("Commit against a failing endpoint: %v, want a retryable error", err)
		}
		if b, _ := m.Object(ctx, c.Bucket, "receipt.json"); b != nil {
			t.Fatalf("a receipt was written by a failed Commit:\n%s", b)
		}
		rc, err := exp.Commit(ctx, dm.manifest())
		if err != nil {
			t.Fatalf("Commit once the endpoint recovered: %v", err)
		}
		if b, err := m.Object(ctx, c.Bucket, "receipt.json"); err != nil || !bytes.Equal(b, rc.Body) {
			t.Fatalf("receipt: %v", err)
		}
		if n := strings.Count(strings.Join(successfulPuts(t, proxy), "\n"), "/receipt.json"); n != 1 {
			t.Fatalf("receipt stored %d times", n)
		}
	})
}
