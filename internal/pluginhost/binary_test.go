package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/testsupport"
)

// pluginPID is the process id of a launched plugin.
func pluginPID(t *testing.T, h *Host, name string) int {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.plugins[name]
	if !ok || p.client == nil {
		t.Fatalf("plugin %s is not running", name)
	}
	return p.client.PID()
}

// copyPlugin copies the localfs plugin into dir, with extra bytes after
// the executable's own (which change its digest, not what it does), and
// returns the copy's path and SHA-256.
func copyPlugin(t *testing.T, dir string, extra string) (string, string) {
	t.Helper()
	src, err := filepath.EvalSymlinks(filepath.Join(testsupport.PluginDir(t, "localfs"), "exportd-plugin-localfs"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, extra...)
	dst := filepath.Join(dir, "exportd-plugin-localfs")
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return dst, hex.EncodeToString(sum[:])
}

// TestPluginEnvironment: a plugin process sees the base variables and
// those its spec names, never the rest of the daemon's environment.
func TestPluginEnvironment(t *testing.T) {
	t.Setenv("EXPORTD_TEST_PG_DSN", "postgres://exportd:secret@db/platform")
	t.Setenv("EXPORTD_TEST_AWS_KEY", "AKIAEXAMPLE")
	t.Setenv("EXPORTD_TEST_TOKEN", "t0ken")
	tests := []struct {
		name    string
		env     []string
		present []string
		absent  []string
	}{
		{name: "nothing named", present: []string{"PATH"},
			absent: []string{"EXPORTD_TEST_PG_DSN", "EXPORTD_TEST_AWS_KEY", "EXPORTD_TEST_TOKEN"}},
		{name: "a prefix and a name", env: []string{"EXPORTD_TEST_AWS_*", "EXPORTD_TEST_TOKEN"},
			present: []string{"PATH", "EXPORTD_TEST_AWS_KEY", "EXPORTD_TEST_TOKEN"}, absent: []string{"EXPORTD_TEST_PG_DSN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newHost(t, []Spec{{Name: "localfs", Env: tt.env}}, nil)
			if err := h.Launch(context.Background(), []string{"localfs"}); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pluginPID(t, h, "localfs")))
			if err != nil {
				t.Fatal(err)
			}
			env := map[string]string{}
			for _, kv := range strings.Split(string(raw), "\x00") {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			for _, k := range tt.present {
				if v, ok := env[k]; !ok || v != os.Getenv(k) {
					t.Errorf("%s is missing from the plugin's environment, or changed (%q)", k, v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := env[k]; ok {
					t.Errorf("%s reached the plugin", k)
				}
			}
		})
	}
}

func TestBadEnvPattern(t *testing.T) {
	h, _ := newHost(t, []Spec{{Name: "localfs", Env: []string{"*"}}}, nil)
	if err := h.Launch(context.Background(), []string{"localfs"}); err == nil || !strings.Contains(err.Error(), "whole environment") {
		t.Fatalf("launch with env = [\"*\"]: %v", err)
	}
}

// TestPinnedBinaryIsWhatRuns: a pinned binary replaced between its check
// and its launch does not run; the file that was hashed does.
func TestPinnedBinaryIsWhatRuns(t *testing.T) {
	dir := t.TempDir()
	path, pin := copyPlugin(t, dir, "")
	h, _ := newHost(t, []Spec{{Name: "localfs", Path: path, SHA256: pin}}, nil)
	h.beforeLaunch = func() {
		if _, swapped := copyPlugin(t, dir, "swapped"); swapped == pin {
			t.Fatal("the swapped binary has the pinned digest")
		}
	}
	if err := h.Launch(context.Background(), []string{"localfs"}); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Open(fmt.Sprintf("/proc/%d/exe", pluginPID(t, h, "localfs")))
	if err != nil {
		t.Fatal(err)
	}
	defer exe.Close()
	sum := sha256.New()
	if _, err := io.Copy(sum, exe); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != pin {
		t.Fatalf("the running plugin has sha256 %s, not the pinned %s", got, pin)
	}
	// Started from /proc/self/fd/3, it still goes by its own name in ps.
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pluginPID(t, h, "localfs")))
	if err != nil || strings.TrimSpace(string(comm)) != "exportd-plugin-" {
		t.Fatalf("process name %q (%v), want exportd-plugin- (the kernel keeps 15 bytes)", comm, err)
	}
}

// TestUnsafePermissions: a plugin binary, or a directory above it, that
// group or others may write is refused before it runs; a sticky directory
// such as /tmp is not.
func TestUnsafePermissions(t *testing.T) {
	tests := []struct {
		name    string
		fileMod os.FileMode
		dirMod  os.FileMode
		link    os.FileMode // when set, the spec names a link in a directory of this mode
		refused string      // the path the error names, relative to the test's directory
	}{
		{name: "safe", fileMod: 0o755, dirMod: 0o755},
		{name: "group-writable binary", fileMod: 0o775, dirMod: 0o755, refused: "bin/exportd-plugin-localfs"},
		{name: "world-writable binary", fileMod: 0o757, dirMod: 0o755, refused: "bin/exportd-plugin-localfs"},
		{name: "group-writable directory", fileMod: 0o755, dirMod: 0o775, refused: "bin"},
		{name: "world-writable sticky directory", fileMod: 0o755, dirMod: os.ModeSticky | 0o777},
		{name: "link in a writable directory", fileMod: 0o755, dirMod: 0o755, link: 0o777, refused: "links"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			bin := filepath.Join(base, "bin")
			if err := os.Mkdir(bin, 0o700); err != nil {
				t.Fatal(err)
			}
			path, _ := copyPlugin(t, bin, "")
			if err := os.Chmod(path, tt.fileMod); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(bin, tt.dirMod); err != nil {
				t.Fatal(err)
			}
			if tt.link != 0 {
				links := filepath.Join(base, "links")
				if err := os.Mkdir(links, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(links, tt.link); err != nil {
					t.Fatal(err)
				}
				path = filepath.Join(links, "exportd-plugin-localfs")
				if err := os.Symlink(filepath.Join(bin, "exportd-plugin-localfs"), path); err != nil {
					t.Fatal(err)
				}
			}
			h, _ := newHost(t, []Spec{{Name: "localfs", Path: path}}, nil)
			err := h.Launch(context.Background(), []string{"localfs"})
			if tt.refused == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			want := filepath.Join(base, tt.refused) + " is writable by group or others"
			if !errors.Is(err, ErrUnsafePermissions) || !strings.Contains(err.Error(), want) {
				t.Fatalf("got %v, want %v naming %s", err, ErrUnsafePermissions, want)
			}
			if _, err := h.Schema("localfs"); err == nil {
				t.Fatal("the refused plugin is running")
			}
		})
	}
}
