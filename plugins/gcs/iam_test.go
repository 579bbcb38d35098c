package gcs

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/destinationtest"
)

// TestCheckFindsBrokenSetups: every way the customer's or the operator's
// setup can be wrong is a configuration error naming the attribute to fix,
// found by Check before any export, and no object is written.
func TestCheckFindsBrokenSetups(t *testing.T) {
	w := newWorld(t)
	const key = "projects/acme-project/locations/europe-west1/keyRings/exports/cryptoKeys/dumps"
	w.g.AddKMSKey(key, false) // the Cloud Storage service agent was not granted the key
	stranger := w.g.NewServiceAccount(t, "stranger@other-project.iam.gserviceaccount.com")
	// A key file whose account exists but whose private key is not the
	// registered one: Google refuses its signature.
	forged := filepath.Join(t.TempDir(), "forged.json")
	other := w.g.NewServiceAccount(t, "forged@platform-project.iam.gserviceaccount.com")
	data, _ := os.ReadFile(other.KeyFile)
	os.WriteFile(forged, data, 0o600)
	w.g.NewServiceAccount(t, "forged@platform-project.iam.gserviceaccount.com") // a new key replaces the old one

	tests := []struct {
		name     string
		opts     customerOptions
		cfg      map[string]any
		attr     string
		contains string
		platform bool // the platform's own identity is at fault
	}{
		{name: "bucket does not exist", cfg: map[string]any{"bucket": "acme-no-such-bucket"},
			attr: "bucket", contains: "does not exist"},
		{name: "platform may not impersonate", opts: customerOptions{NoImpersonation: true},
			attr: "impersonate_service_account", contains: "roles/iam.serviceAccountTokenCreator"},
		{name: "service account does not exist", cfg: map[string]any{"impersonate_service_account": "nobody@acme-project.iam.gserviceaccount.com"},
			attr: "impersonate_service_account", contains: "may not impersonate"},
		{name: "service account may not create", opts: customerOptions{NoCreate: true},
			attr: "impersonate_service_account", contains: "roles/storage.objectCreator"},
		{name: "platform itself may not create", cfg: map[string]any{"impersonate_service_account": nil},
			attr: "bucket", contains: "roles/storage.objectCreator"},
		{name: "credentials of another identity", cfg: map[string]any{"credentials_file": stranger.KeyFile},
			attr: "impersonate_service_account", contains: stranger.Email},
		{name: "credentials with a wrong key", cfg: map[string]any{"credentials_file": forged},
			attr: "credentials_file", contains: "refused the platform's own credentials", platform: true},
		{name: "unknown KMS key", cfg: map[string]any{"kms_key_name": "projects/acme-project/locations/europe-west1/keyRings/exports/cryptoKeys/nope"},
			attr: "kms_key_name", contains: "cryptoKeyEncrypterDecrypter"},
		{name: "KMS key the service agent may not use", cfg: map[string]any{"kms_key_name": key},
			attr: "kms_key_name", contains: "cannot encrypt with"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := w.newCustomer(t, tc.opts)
			d, err := w.configure(t, w.config(c, tc.cfg))
			if err != nil {
				t.Fatalf("Configure: %v", err)
			}
			_, err = d.Check(testContext(t))
			destinationtest.RequireConfigError(t, err, tc.attr, tc.contains)
			if sdk.IsPlatformError(err) != tc.platform {
				t.Fatalf("platform identity at fault: %t, want %t (%v)", sdk.IsPlatformError(err), tc.platform, err)
			}
			if names, _ := w.g.ObjectNames(c.Bucket); len(names) != 0 {
				t.Fatalf("Check of a broken setup wrote %v", names)
			}
		})
	}
}

// TestExportFailsLikeCheck: the same broken setups met by an export (the
// daemon may export without a Check) fail it with the same configuration
// errors, and publish no receipt.
func TestExportFailsLikeCheck(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name     string
		opts     customerOptions
		attr     string
		contains string
	}{
		{name: "may not impersonate", opts: customerOptions{NoImpersonation: true}, attr: "impersonate_service_account", contains: "roles/iam.serviceAccountTokenCreator"},
		{name: "may not create", opts: customerOptions{NoCreate: true}, attr: "impersonate_service_account", contains: "roles/storage.objectCreator"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := w.newCustomer(t, tc.opts)
			d, err := w.configure(t, w.config(c, nil))
			if err != nil {
				t.Fatal(err)
			}
			_, err = exportDump(testContext(t), d, newDump(t, exportTime(), map[string]int{"events": 2}))
			destinationtest.RequireConfigError(t, err, tc.attr, tc.contains)
			if names, _ := w.g.ObjectNames(c.Bucket); len(names) != 0 {
				t.Fatalf("objects after a refused export: %v", names)
			}
		})
	}
}

// TestReceiptNeedsDelete: Cloud Storage needs storage.objects.delete to
// replace an object. Without the guide's grant on receipt.json, the first
// dump lands and the second one's receipt is refused with an error that
// says which grant is missing; the first receipt stays.
func TestReceiptNeedsDelete(t *testing.T) {
	w := newWorld(t)
	c := w.newCustomer(t, customerOptions{NoReceiptDelete: true})
	d, err := w.configure(t, w.config(c, nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	first := newDump(t, exportTime().Add(-2*time.Minute), map[string]int{"events": 1})
	rc, err := exportDump(ctx, d, first)
	if err != nil {
		t.Fatalf("first dump: %v", err)
	}
	second := newDump(t, exportTime(), map[string]int{"events": 1})
	_, err = exportDump(ctx, d, second)
	destinationtest.RequireConfigError(t, err, "impersonate_service_account", "storage.objects.delete on that one object")
	if got, _ := w.g.Object(c.Bucket, "dumps/receipt.json"); string(got) != string(rc.Body) {
		t.Fatal("the first receipt was replaced")
	}
	if sdk.KindOf(err) != sdk.KindConfiguration {
		t.Fatal(err)
	}
}
