package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/exportd/exportd/internal/testsupport"
)

// TestValidateCheckClouds: `exportd validate -check` finds every broken
// gcs and azblob setup before any export, each as a configuration error
// naming the attribute to fix, and passes the good ones. No SAS signature
// appears in its output.
func TestValidateCheckClouds(t *testing.T) {
	g := testsupport.StartGCS(t)
	platform := g.NewServiceAccount(t, "exportd@platform-project.iam.gserviceaccount.com")
	sa := g.NewServiceAccount(t, "platform-export@acme-project.iam.gserviceaccount.com")
	stranger := g.NewServiceAccount(t, "stranger@acme-project.iam.gserviceaccount.com")
	g.CreateBucket("acme-dumps")
	g.AllowImpersonation(platform.Email, sa.Email)
	g.AllowImpersonation(platform.Email, stranger.Email)
	g.Grant(sa.Email, "acme-dumps", "storage.objects.create")
	const badKey = "projects/acme-project/locations/europe-west1/keyRings/exports/cryptoKeys/revoked"
	g.AddKMSKey(badKey, false)

	a := testsupport.StartAzurite(t)
	c := a.NewContainer(t)
	hour := time.Now().Add(time.Hour)
	goodSAS := a.SAS(t, c, sas.ContainerPermissions{Create: true, Write: true}, hour, testsupport.AzuriteKey)
	readSAS := a.SAS(t, c, sas.ContainerPermissions{Read: true, List: true}, hour, testsupport.AzuriteKey)
	expiredSAS := a.SAS(t, c, sas.ContainerPermissions{Create: true, Write: true}, time.Now().Add(-time.Minute), testsupport.AzuriteKey)
	forgedSAS := a.SAS(t, c, sas.ContainerPermissions{Create: true, Write: true}, hour,
		"AAAAvdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==")

	gcsBlock := func(name, bucket, account, extra string) string {
		return fmt.Sprintf(`destination "gcs" %q {
  account                     = "acme"
  bucket                      = %q
  impersonate_service_account = %q
  credentials_file            = %q
  endpoint                    = %q
  iam_credentials_endpoint    = %q
  %s
}
`, name, bucket, account, platform.KeyFile, g.URL, g.URL, extra)
	}
	azBlock := func(name, container, token string) string {
		return fmt.Sprintf(`destination "azblob" %q {
  account         = "acme"
  storage_account = %q
  container       = %q
  sas_token       = %q
  endpoint        = %q
}
`, name, testsupport.AzuriteAccount, container, token, a.Endpoint)
	}
	cfg := writeConfig(t, fmt.Sprintf(`
data_dir   = %q
plugin_dir = %q
source "sample" { scale = 0.001 }
`, t.TempDir(), testsupport.PluginDir(t, "gcs", "azblob"))+
		gcsBlock("gcs-good", "acme-dumps", sa.Email, "")+
		gcsBlock("gcs-no-bucket", "acme-missing", sa.Email, "")+
		gcsBlock("gcs-no-permission", "acme-dumps", stranger.Email, "")+
		gcsBlock("gcs-no-impersonation", "acme-dumps", "nobody@acme-project.iam.gserviceaccount.com", "")+
		gcsBlock("gcs-bad-key", "acme-dumps", sa.Email, fmt.Sprintf("kms_key_name = %q", badKey))+
		azBlock("az-good", c, goodSAS)+
		azBlock("az-no-container", "acme-missing", a.SAS(t, "acme-missing", sas.ContainerPermissions{Create: true, Write: true}, hour, testsupport.AzuriteKey))+
		azBlock("az-read-only-sas", c, readSAS)+
		azBlock("az-expired-sas", c, expiredSAS)+
		azBlock("az-wrong-key", c, forgedSAS))

	out, code := runExportd(t, "validate", "-config", cfg, "-check")
	if code != 1 {
		t.Fatalf("validate -check exited %d, want 1:\n%s", code, out)
	}
	want := map[string]string{
		"gcs-good":             "ok",
		"gcs-no-bucket":        "FAIL (configuration) bucket:",
		"gcs-no-permission":    "FAIL (configuration) impersonate_service_account:",
		"gcs-no-impersonation": "FAIL (configuration) impersonate_service_account:",
		"gcs-bad-key":          "FAIL (configuration) kms_key_name:",
		"az-good":              "ok",
		"az-no-container":      "FAIL (configuration) container:",
		"az-read-only-sas":     "FAIL (configuration) sas_token:",
		"az-expired-sas":       "FAIL (configuration) sas_token:",
		"az-wrong-key":         "FAIL (configuration) sas_token:",
	}
	for name, verdict := range want {
		m := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(name) + `\s+(.*)$`).FindStringSubmatch(out)
		if m == nil || !strings.HasPrefix(m[1], verdict) {
			t.Errorf("%s: want %q, got %q", name, verdict, m)
		}
	}
	for _, token := range []string{goodSAS, readSAS, expiredSAS, forgedSAS} {
		sig := regexp.MustCompile(`sig=([^&]+)`).FindStringSubmatch(token)[1]
		if strings.Contains(out, sig) {
			t.Fatalf("a SAS signature leaked into validate's output:\n%s", out)
		}
	}
	if t.Failed() {
		t.Logf("validate -check:\n%s", out)
	}
}
