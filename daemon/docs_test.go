package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/testsupport"
)

// TestDocumentedDestinationsValidate: the destination blocks the README
// shows (kept in testdata/configs/destinations, which the README must
// quote exactly) pass `exportd validate` against the real plugins: every
// attribute exists, has the right type, and is within the plugin's
// declared values and ranges.
func TestDocumentedDestinationsValidate(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	pluginDir := testsupport.PluginDir(t, "s3legacy", "gcs", "azblob")
	// The gcs plugin finds the platform's Application Default Credentials
	// at Configure, without a request.
	key := testsupport.StartGCS(t).NewServiceAccount(t, "exportd@platform-project.iam.gserviceaccount.com").KeyFile
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", key)
	for _, name := range []string{"s3legacy", "gcs", "azblob"} {
		t.Run(name, func(t *testing.T) {
			block := string(testsupport.Fixture(t, "configs/destinations/"+name+".hcl"))
			if !strings.Contains(string(readme), "```hcl\n"+block+"```") {
				t.Fatalf("the README does not show testdata/configs/destinations/%s.hcl as it is:\n%s", name, block)
			}
			cfg := writeConfig(t, fmt.Sprintf(`data_dir   = %q
plugin_dir = %q
source "sample" {}
http { listen = "" }
plugin "gcs" { env = ["GOOGLE_APPLICATION_CREDENTIALS"] }
`, t.TempDir(), pluginDir)+block)
			secrets := filepath.Join(filepath.Dir(cfg), "secrets")
			if err := os.Mkdir(secrets, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(secrets, "umbrella.sas"), []byte("sv=2024-08-04&sr=c&sp=cw&se=2030-01-01T00:00:00Z&sig=c2lnbmF0dXJl\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			out, code := runExportd(t, "validate", "-config", cfg)
			if code != 0 || !strings.Contains(out, ": valid;") {
				t.Fatalf("validate exited %d:\n%s", code, out)
			}
			if strings.Contains(out, "c2lnbmF0dXJl") {
				t.Fatalf("the SAS token is shown:\n%s", out)
			}
		})
	}
}
