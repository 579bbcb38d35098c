package azblob

import (
	"bytes"
	"crypto/md5"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/destinationtest"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// harness is the conformance harness of azblob, writing into Azurite with
// the customer guide's SAS (create and write only), with the plugin
// binary or the plugin served in-process.
func harness(t *testing.T, a *testsupport.Azurite, inProcess bool) destinationtest.Harness {
	hour := time.Now().Add(time.Hour)
	inspect := func(c string) destinationtest.Inspector {
		return inspector{a: a, container: c, layout: legacylayout.Layout{Folder: "dumps"}}
	}
	h := destinationtest.Harness{
		New: func(t *testing.T) (map[string]any, destinationtest.Inspector) {
			c := a.NewContainer(t)
			return config(a, c, a.SAS(t, c, writeOnly, hour, testsupport.AzuriteKey), nil), inspect(c)
		},
		Invalid: []destinationtest.InvalidConfig{
			{Name: "missing container", Config: map[string]any{"storage_account": "acme"}, Attribute: "container"},
			{Name: "missing account", Config: map[string]any{"container": "dumps"}, Attribute: "storage_account"},
			{Name: "account URL", Config: map[string]any{"storage_account": "https://acme.blob.core.windows.net", "container": "dumps"}, Attribute: "storage_account"},
			{Name: "container with a path", Config: map[string]any{"storage_account": "acme", "container": "dumps/acme"}, Attribute: "container"},
			{Name: "SAS URL", Config: map[string]any{"storage_account": "acme", "container": "dumps", "sas_token": "https://acme.blob.core.windows.net/dumps?sv=1&sp=cw&sig=x"}, Attribute: "sas_token"},
			{Name: "SAS without signature", Config: map[string]any{"storage_account": "acme", "container": "dumps", "sas_token": "sv=2024-08-04&sp=cw"}, Attribute: "sas_token"},
			{Name: "tenant with SAS", Config: map[string]any{"storage_account": "acme", "container": "dumps", "sas_token": "sv=1&sp=cw&sig=x", "tenant_id": "acme.onmicrosoft.com"}, Attribute: "tenant_id"},
			{Name: "client ID not a GUID", Config: map[string]any{"storage_account": "acme", "container": "dumps", "client_id": "exportd"}, Attribute: "client_id"},
			{Name: "zero concurrency", Config: map[string]any{"storage_account": "acme", "container": "dumps", "upload_concurrency": 0}, Attribute: "upload_concurrency"},
		},
		Broken: []destinationtest.BrokenSetup{
			{Name: "SAS without create and write", Attribute: "sas_token", New: func(t *testing.T) map[string]any {
				c := a.NewContainer(t)
				return config(a, c, a.SAS(t, c, sas.ContainerPermissions{Read: true, List: true}, hour, testsupport.AzuriteKey), nil)
			}},
			{Name: "expired SAS", Attribute: "sas_token", New: func(t *testing.T) map[string]any {
				c := a.NewContainer(t)
				return config(a, c, a.SAS(t, c, writeOnly, time.Now().Add(-time.Minute), testsupport.AzuriteKey), nil)
			}},
			{Name: "container does not exist", Attribute: "container", New: func(t *testing.T) map[string]any {
				const c = "acme-no-such-container"
				return config(a, c, a.SAS(t, c, writeOnly, hour, testsupport.AzuriteKey), nil)
			}},
		},
		Faulty: func(t *testing.T) (map[string]any, destinationtest.Inspector, destinationtest.Faults) {
			c := a.NewContainer(t)
			proxy := testsupport.StartFaultProxy(t, a.Endpoint, testsupport.Faults{Dialect: testsupport.DialectAzure})
			return config(a, c, a.SAS(t, c, writeOnly, hour, testsupport.AzuriteKey), map[string]any{"endpoint": proxy.URL, "max_attempts": 2}),
				inspect(c), proxy
		},
	}
	if inProcess {
		h.Plugin = testPlugin()
	} else {
		h.Binary = testsupport.Binary(t, "./plugins/azblob/cmd/exportd-plugin-azblob", "exportd-plugin-azblob")
	}
	return h
}

// TestConformance runs the SDK's conformance suite against the plugin
// binary.
func TestConformance(t *testing.T) {
	destinationtest.Run(t, harness(t, testsupport.StartAzurite(t), false))
}

// TestConformanceInProcess runs the suite against the plugin served from
// the test's process, where coverage counts it.
func TestConformanceInProcess(t *testing.T) {
	destinationtest.Run(t, harness(t, testsupport.StartAzurite(t), true))
}

// TestLeastPrivilege: with a SAS of create and write only, Check passes,
// two dumps land, the second replaces the receipt, every blob is
// byte-identical and carries the MD5 the plugin sent.
func TestLeastPrivilege(t *testing.T) {
	a := testsupport.StartAzurite(t)
	c := a.NewContainer(t)
	d, err := configure(t, config(a, c, a.SAS(t, c, writeOnly, time.Now().Add(time.Hour), testsupport.AzuriteKey), nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	verdict, err := d.Check(ctx)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if strings.Contains(verdict, "more than needed") {
		t.Fatalf("verdict: %s", verdict)
	}
	first := newDump(t, exportTime().Add(-2*time.Minute), map[string]int{"companies": 2, "events": 3})
	if _, err := exportDump(ctx, d, first); err != nil {
		t.Fatalf("first dump: %v", err)
	}
	second := newDump(t, exportTime(), map[string]int{"companies": 1})
	second.Info.PreviousTime = first.Info.Time
	rc, err := exportDump(ctx, d, second)
	if err != nil {
		t.Fatalf("second dump: %v", err)
	}
	if got, err := a.Blob(ctx, c, "dumps/receipt.json"); err != nil || !bytes.Equal(got, rc.Body) {
		t.Fatalf("receipt: %v\n%s", err, got)
	}
	for _, dm := range []dump{first, second} {
		for _, f := range dm.Files() {
			name := d.layout.FileKey(dm.Info.Time, f.Table, f.Index)
			got, err := a.Blob(ctx, c, name)
			if err != nil || !bytes.Equal(got, f.Data) {
				t.Fatalf("%s: stored bytes differ (%v)", name, err)
			}
			sum := md5.Sum(f.Data)
			if stored, err := a.ContentMD5(ctx, c, name); err != nil || !bytes.Equal(stored, sum[:]) {
				t.Fatalf("%s: Content-MD5 %x (%v), want %x", name, stored, err, sum)
			}
		}
	}
	// An older run finishing late never replaces the newer receipt.
	late := newDump(t, first.Info.Time.Add(-time.Hour), map[string]int{"companies": 1})
	if _, err := exportDump(ctx, d, late); sdk.KindOf(err) != sdk.KindPermanent || err == nil {
		t.Fatalf("an older dump's commit after a newer one: %v", err)
	}
	if got, _ := a.Blob(ctx, c, "dumps/receipt.json"); !bytes.Equal(got, rc.Body) {
		t.Fatal("an older dump replaced the receipt")
	}
}

// TestCheckFindsBrokenSetups: SAS tokens Azurite refuses, and a missing
// container, are configuration errors naming the attribute, found by Check
// before any export; nothing is written.
func TestCheckFindsBrokenSetups(t *testing.T) {
	a := testsupport.StartAzurite(t)
	const wrongKey = "AAAAvdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	hour := time.Now().Add(time.Hour)
	tests := []struct {
		name     string
		token    func(c string) string
		extra    map[string]any
		attr     string
		contains string
	}{
		{name: "SAS without create and write", token: func(c string) string {
			return a.SAS(t, c, sas.ContainerPermissions{Read: true, List: true}, hour, testsupport.AzuriteKey)
		}, attr: "sas_token", contains: "may not create and write blobs"},
		{name: "SAS with create only", token: func(c string) string {
			return a.SAS(t, c, sas.ContainerPermissions{Create: true}, hour, testsupport.AzuriteKey)
		}, attr: "sas_token", contains: `its permissions are "c"`},
		{name: "expired SAS", token: func(c string) string {
			return a.SAS(t, c, writeOnly, time.Now().Add(-time.Minute), testsupport.AzuriteKey)
		}, attr: "sas_token", contains: "it expired at"},
		{name: "SAS signed with a wrong account key", token: func(c string) string {
			return a.SAS(t, c, writeOnly, hour, wrongKey)
		}, attr: "sas_token", contains: "not signed by a current key"},
		{name: "SAS of another container", token: func(string) string {
			return a.SAS(t, a.NewContainer(t), writeOnly, hour, testsupport.AzuriteKey)
		}, attr: "sas_token", contains: "did not accept the SAS token"},
		{name: "container does not exist", token: func(string) string {
			return a.SAS(t, "acme-no-such-container", writeOnly, hour, testsupport.AzuriteKey)
		}, extra: map[string]any{"container": "acme-no-such-container"}, attr: "container", contains: "does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := a.NewContainer(t)
			d, err := configure(t, config(a, c, tc.token(c), tc.extra))
			if err != nil {
				t.Fatalf("Configure: %v", err)
			}
			_, err = d.Check(testContext(t))
			destinationtest.RequireConfigError(t, err, tc.attr, tc.contains)
			if strings.Contains(err.Error(), d.s.SAS.Get("sig")) {
				t.Fatalf("the SAS signature leaked into the error: %v", err)
			}
			// A SAS that may create but not write creates the probe.
			names, _ := a.BlobNames(testContext(t), c)
			if len(names) > 1 || len(names) == 1 && names[0] != "dumps/"+checkBlob {
				t.Fatalf("Check of a broken setup wrote %v", names)
			}
		})
	}
}

// TestCreateOnlySASFailsTheSecondReceipt: a SAS that may create but not
// write lands the first dump and fails the second one's receipt, saying
// which permission is missing; the first receipt stays.
func TestCreateOnlySASFailsTheSecondReceipt(t *testing.T) {
	a := testsupport.StartAzurite(t)
	c := a.NewContainer(t)
	d, err := configure(t, config(a, c, a.SAS(t, c, sas.ContainerPermissions{Create: true}, time.Now().Add(time.Hour), testsupport.AzuriteKey), nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	rc, err := exportDump(ctx, d, newDump(t, exportTime().Add(-2*time.Minute), map[string]int{"events": 1}))
	if err != nil {
		t.Fatalf("first dump: %v", err)
	}
	_, err = exportDump(ctx, d, newDump(t, exportTime(), map[string]int{"events": 1}))
	destinationtest.RequireConfigError(t, err, "sas_token", "sp=cw")
	if got, _ := a.Blob(ctx, c, "dumps/receipt.json"); !bytes.Equal(got, rc.Body) {
		t.Fatal("the first receipt was replaced")
	}
}

// TestEncryptionScope records what Azurite does with an encryption scope:
// it does not implement them, and accepts a scope that does not exist.
// The plugin sends the scope; a wrong one is proven only by Azure itself.
func TestEncryptionScope(t *testing.T) {
	a := testsupport.StartAzurite(t)
	c := a.NewContainer(t)
	d, err := configure(t, config(a, c, a.SAS(t, c, writeOnly, time.Now().Add(time.Hour), testsupport.AzuriteKey),
		map[string]any{"encryption_scope": "no-such-scope"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Check(testContext(t)); err != nil {
		t.Fatalf("Azurite now refuses an unknown encryption scope (%v): make this test prove that the plugin names encryption_scope", err)
	}
}

// TestServerVerifiesMD5: Azurite refuses a body whose MD5 is not the one
// sent, as Azure does, so bytes changed on the way are never stored; the
// plugin calls that retryable.
func TestServerVerifiesMD5(t *testing.T) {
	a := testsupport.StartAzurite(t)
	c := a.NewContainer(t)
	d, err := configure(t, config(a, c, a.SAS(t, c, writeOnly, time.Now().Add(time.Hour), testsupport.AzuriteKey), map[string]any{"max_attempts": 2}))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("the encoded bytes")
	wrong := md5.Sum([]byte("other bytes"))
	err = d.upload(testContext(t), "dumps/x.parquet.gz", bytes.NewReader(body), int64(len(body)), wrong[:], legacylayout.ParquetContentType)
	if err == nil || sdk.KindOf(err) != sdk.KindRetryable || !strings.Contains(err.Error(), "Md5Mismatch") {
		t.Fatalf("upload with a wrong MD5: %v, want a retryable Md5Mismatch", err)
	}
	if names, _ := a.BlobNames(testContext(t), c); len(names) != 0 {
		t.Fatalf("a body with a wrong MD5 was stored: %v", names)
	}
}
