package service

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDefaultPluginDir: an installed exportd (<prefix>/bin) finds its
// plugins in <prefix>/lib/exportd/plugins; a built one beside itself.
func TestDefaultPluginDir(t *testing.T) {
	installed := t.TempDir()
	lib := filepath.Join(installed, "lib", "exportd", "plugins")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	built := t.TempDir()
	tests := []struct {
		name, exeDir, want string
	}{
		{"package layout", filepath.Join(installed, "bin"), lib},
		{"bin without lib", filepath.Join(built, "bin"), filepath.Join(built, "bin")},
		{"any other directory", built, built},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := defaultPluginDir(tt.exeDir); got != tt.want {
				t.Fatalf("defaultPluginDir(%s) = %s, want %s", tt.exeDir, got, tt.want)
			}
		})
	}
}
