package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestExamplesParse: the configuration in the README, every file in
// configs/ and the Debian package's starting point decode without
// errors, so that what users copy works.
func TestExamplesParse(t *testing.T) {
	root := filepath.Join("..", "..")
	t.Setenv("EXPORTD_NATS_URL", "nats://127.0.0.1:4222")
	t.Setenv("EXPORTD_WEBHOOK_URL", "https://hooks.example.test/exportd")
	t.Setenv("EXPORTD_WEBHOOK_SECRET", "an-example-signing-secret")
	t.Setenv("EXPORTD_SLACK_WEBHOOK_URL", "https://hooks.example.test/services/T0/B0/x")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)[strings.Index(string(readme), "## Configuration"):]
	block := regexp.MustCompile("(?s)```hcl\n(.*?)```").FindStringSubmatch(section)
	if block == nil {
		t.Fatal("no hcl block in the README's configuration section")
	}
	sources := map[string][]byte{"README.md": []byte(strings.ReplaceAll(block[1], `"…"`, `"`+strings.Repeat("0", 64)+`"`))}
	files, _ := filepath.Glob(filepath.Join(root, "configs", "*.hcl"))
	files = append(files, filepath.Join(root, "packaging", "exportd.hcl"))
	if len(files) < 2 {
		t.Fatalf("configs/ holds %d files", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources[filepath.Base(f)] = b
	}
	for name, src := range sources {
		t.Run(name, func(t *testing.T) {
			if _, diags := Parse(src, name, t.TempDir()); diags.HasErrors() {
				t.Fatal(diags)
			}
		})
	}
}
