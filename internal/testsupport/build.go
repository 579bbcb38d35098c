package testsupport

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var (
	buildMu    sync.Mutex
	buildDir   string
	buildCache = map[string]string{}
)

// Binary builds the main package pkg (an import path below the module,
// such as "./daemon/exportd") once per test process and returns the path
// of the executable, named name. Builds are cached by Go's build cache, so
// this is quick after the first run.
//
// The executables live in one directory per checkout of the module,
// reused by every test process, so that test runs leave nothing new
// behind. Each process builds under a name of its own and renames the
// result into place: processes of one `go test ./...` run build at the
// same time, and a process still running the previous executable keeps
// it.
func Binary(t testing.TB, pkg, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := buildCache[pkg]; ok {
		return p
	}
	if buildDir == "" {
		root := sha256.Sum256([]byte(ModuleRoot(t)))
		dir := filepath.Join(os.TempDir(), "exportd-test-bin-"+hex.EncodeToString(root[:6]))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		buildDir = dir
	}
	out := filepath.Join(buildDir, name)
	tmp := fmt.Sprintf("%s.build-%d", out, os.Getpid())
	cmd := exec.Command("go", "build", "-o", tmp, pkg)
	cmd.Dir = ModuleRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		t.Fatal(err)
	}
	buildCache[pkg] = out
	return out
}

// PluginDir builds the named destination plugins into one directory, as
// the daemon's plugin_dir expects (exportd-plugin-<name>), and returns it.
func PluginDir(t testing.TB, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		bin := Binary(t, "./plugins/"+n+"/cmd/exportd-plugin-"+n, "exportd-plugin-"+n)
		if err := os.Symlink(bin, filepath.Join(dir, "exportd-plugin-"+n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// ModuleRoot returns the directory holding go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the module root")
	}
	dir := filepath.Dir(file)
	for !strings.HasSuffix(dir, string(filepath.Separator)) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		dir = filepath.Dir(dir)
	}
	t.Fatal("go.mod not found above " + file)
	return ""
}
