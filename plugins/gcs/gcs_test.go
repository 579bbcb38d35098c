package gcs

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk/destinationtest"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// harness is the conformance harness of gcs, writing into
// fake-gcs-server through a customer's service account with exactly the
// customer guide's grants, with the plugin binary or the plugin served
// in-process.
func harness(t *testing.T, w *world, inProcess bool) destinationtest.Harness {
	inspect := func(c customer) destinationtest.Inspector {
		return inspector{g: w.g, bucket: c.Bucket, layout: legacylayout.Layout{Folder: c.Folder}}
	}
	h := destinationtest.Harness{
		New: func(t *testing.T) (map[string]any, destinationtest.Inspector) {
			c := w.newCustomer(t, customerOptions{})
			return w.config(c, nil), inspect(c)
		},
		Invalid: []destinationtest.InvalidConfig{
			{Name: "missing bucket", Config: map[string]any{"folder": "x"}, Attribute: "bucket"},
			{Name: "gs URL", Config: map[string]any{"bucket": "gs://acme/dumps"}, Attribute: "bucket"},
			{Name: "upper-case bucket", Config: map[string]any{"bucket": "Acme"}, Attribute: "bucket"},
			{Name: "dot-dot folder", Config: map[string]any{"bucket": "acme", "folder": "a/../b"}, Attribute: "folder"},
			{Name: "user email", Config: map[string]any{"bucket": "acme", "impersonate_service_account": "jane@acme.com"}, Attribute: "impersonate_service_account"},
			{Name: "key version", Config: map[string]any{"bucket": "acme", "kms_key_name": "projects/p/locations/eu/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1"}, Attribute: "kms_key_name"},
			{Name: "missing credentials file", Config: map[string]any{"bucket": "acme", "credentials_file": "/nonexistent/key.json"}, Attribute: "credentials_file"},
			{Name: "endpoint without scheme", Config: map[string]any{"bucket": "acme", "endpoint": "storage.example.com"}, Attribute: "endpoint"},
			{Name: "zero concurrency", Config: map[string]any{"bucket": "acme", "upload_concurrency": 0}, Attribute: "upload_concurrency"},
			{Name: "fractional attempts", Config: map[string]any{"bucket": "acme", "max_attempts": 2.5}, Attribute: "max_attempts"},
		},
		Broken: []destinationtest.BrokenSetup{
			{Name: "bucket does not exist", Attribute: "bucket", New: func(t *testing.T) map[string]any {
				return w.config(w.newCustomer(t, customerOptions{}), map[string]any{"bucket": "acme-no-such-bucket"})
			}},
			{Name: "platform may not impersonate", Attribute: "impersonate_service_account", New: func(t *testing.T) map[string]any {
				return w.config(w.newCustomer(t, customerOptions{NoImpersonation: true}), nil)
			}},
			{Name: "service account may not create", Attribute: "impersonate_service_account", New: func(t *testing.T) map[string]any {
				return w.config(w.newCustomer(t, customerOptions{NoCreate: true}), nil)
			}},
		},
		Faulty: func(t *testing.T) (map[string]any, destinationtest.Inspector, destinationtest.Faults) {
			c := w.newCustomer(t, customerOptions{})
			proxy := testsupport.StartFaultProxy(t, w.g.URL, testsupport.Faults{Dialect: testsupport.DialectGCS})
			return w.config(c, map[string]any{"endpoint": proxy.URL, "max_attempts": 2}), inspect(c), proxy
		},
	}
	if inProcess {
		for _, kv := range w.platformEnv() {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		h.Plugin = testPlugin()
	} else {
		h.Binary = testsupport.Binary(t, "./plugins/gcs/cmd/exportd-plugin-gcs", "exportd-plugin-gcs")
		h.Env = w.platformEnv()
	}
	return h
}

// TestConformance runs the SDK's conformance suite against the plugin
// binary.
func TestConformance(t *testing.T) { destinationtest.Run(t, harness(t, newWorld(t), false)) }

// TestConformanceInProcess runs the suite against the plugin served from
// the test's process, where coverage counts it.
func TestConformanceInProcess(t *testing.T) { destinationtest.Run(t, harness(t, newWorld(t), true)) }

// TestLeastPrivilege: with only storage.objects.create on the bucket and
// storage.objects.delete on receipt.json, two dumps land and the second
// replaces the receipt; the plugin sends nothing but uploads (and Check's
// testIamPermissions), and the files are byte-identical.
func TestLeastPrivilege(t *testing.T) {
	w := newWorld(t)
	c := w.newCustomer(t, customerOptions{})
	d, err := w.configure(t, w.config(c, nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	verdict, err := d.Check(ctx)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if !strings.Contains(verdict, c.ServiceAccount) || !strings.Contains(verdict, w.platform.Email) {
		t.Fatalf("Check's verdict names neither identity: %s", verdict)
	}
	first := newDump(t, exportTime().Add(-2*time.Minute), map[string]int{"companies": 2, "events": 3})
	if _, err := exportDump(ctx, d, first); err != nil {
		t.Fatalf("first dump: %v", err)
	}
	second := newDump(t, exportTime(), map[string]int{"companies": 1, "events": 1})
	second.Info.PreviousTime = first.Info.Time
	rc, err := exportDump(ctx, d, second)
	if err != nil {
		t.Fatalf("second dump: %v", err)
	}
	got, err := w.g.Object(c.Bucket, "dumps/receipt.json")
	if err != nil || !bytes.Equal(got, rc.Body) {
		t.Fatalf("receipt: %v\n%s", err, got)
	}
	for _, dm := range []dump{first, second} {
		for _, f := range dm.Files() {
			got, err := w.g.Object(c.Bucket, d.layout.FileKey(dm.Info.Time, f.Table, f.Index))
			if err != nil || !bytes.Equal(got, f.Data) {
				t.Fatalf("%s #%d: stored bytes differ (%v)", f.Table, f.Index, err)
			}
		}
	}
	for _, r := range w.g.Requests() {
		upload := r.Method == http.MethodPost && strings.HasPrefix(r.Path, "/upload/storage/v1/b/"+c.Bucket+"/o")
		test := r.Method == http.MethodGet && r.Path == "/storage/v1/b/"+c.Bucket+"/iam/testPermissions"
		if !upload && !test {
			t.Errorf("the plugin sent %s %s; it may only upload", r.Method, r.Path)
		}
		if r.Principal != c.ServiceAccount {
			t.Errorf("%s %s was sent as %s, not as the customer's service account", r.Method, r.Path, r.Principal)
		}
	}

	// An older run finishing late never replaces the newer receipt.
	late := newDump(t, first.Info.Time.Add(-time.Hour), map[string]int{"companies": 1})
	if _, err := exportDump(ctx, d, late); err == nil {
		t.Fatal("an older dump's commit succeeded after a newer one")
	}
	if got, _ := w.g.Object(c.Bucket, "dumps/receipt.json"); !bytes.Equal(got, rc.Body) {
		t.Fatal("an older dump replaced the receipt")
	}
}

// TestKMSKey: with kms_key_name set, every object names the key, and
// Check proves the key with an empty probe object.
func TestKMSKey(t *testing.T) {
	w := newWorld(t)
	c := w.newCustomer(t, customerOptions{})
	const key = "projects/acme-project/locations/europe-west1/keyRings/exports/cryptoKeys/dumps"
	w.g.AddKMSKey(key, true)
	d, err := w.configure(t, w.config(c, map[string]any{"kms_key_name": key}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	verdict, err := d.Check(ctx)
	if err != nil || !strings.Contains(verdict, key) {
		t.Fatalf("Check: %q, %v", verdict, err)
	}
	dm := newDump(t, exportTime(), map[string]int{"events": 2})
	if _, err := exportDump(ctx, d, dm); err != nil {
		t.Fatal(err)
	}
	names, err := w.g.ObjectNames(c.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 4 { // probe, two files, receipt
		t.Fatalf("objects: %v", names)
	}
	for _, n := range names {
		if got := w.g.ObjectKMSKey(c.Bucket, n); got != key {
			t.Errorf("%s was stored with key %q, want %q", n, got, key)
		}
	}
}
