// Package packaging_test builds the Debian package with `make package`,
// installs it on this machine with dpkg, checks what it installed (the
// binaries, the plugins where the daemon looks for them by default, the
// exportd user, the conffile, the data directory, the systemd unit), runs
// the installed daemon as the exportd user through one export, and purges
// the package again, checking that nothing is left.
package packaging_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/testsupport"
)

// testVersion marks the package this test builds, so that it never
// replaces or purges an exportd installed for real.
const testVersion = "0.0.0~pkgtest"

// installed are the paths the package owns or makes.
var installed = []string{
	"/usr/bin/exportd",
	"/usr/lib/exportd/plugins/exportd-plugin-localfs",
	"/usr/lib/exportd/plugins/exportd-plugin-s3legacy",
	"/usr/lib/exportd/plugins/exportd-plugin-gcs",
	"/usr/lib/exportd/plugins/exportd-plugin-azblob",
	"/usr/lib/systemd/system/exportd.service",
	"/etc/exportd/exportd.hcl",
	"/var/lib/exportd",
	"/usr/share/doc/exportd/README.md",
	"/usr/share/exportd/monitoring/exportd.rules.yml",
}

// TestConffileValidates: the configuration the package installs is
// accepted by `exportd validate` (as any user; the package test checks it
// again from the installed paths).
func TestConffileValidates(t *testing.T) {
	exe := testsupport.Binary(t, "./daemon", "exportd")
	out, err := exec.Command(exe, "validate", "-config", "exportd.hcl").CombinedOutput()
	if err != nil {
		t.Fatalf("exportd validate: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "valid") {
		t.Fatalf("exportd validate said: %s", out)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// installedVersion is the version of the exportd package dpkg has
// installed, or "".
func installedVersion() string {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Status}|${Version}", "exportd").Output()
	if err != nil {
		return ""
	}
	status, version, _ := strings.Cut(string(out), "|")
	if !strings.Contains(status, "installed") && !strings.Contains(status, "config-files") {
		return ""
	}
	return version
}

func TestDebianPackage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("installing a Debian package needs root (CI runs as root); skipped")
	}
	for _, tool := range []string{"dpkg", "dpkg-query", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: this is no Debian system; skipped", tool)
		}
	}
	switch v := installedVersion(); {
	case v == testVersion:
		t.Log("purging the package a previous run of this test left behind")
		run(t, "dpkg", "--purge", "exportd")
	case v != "":
		t.Skipf("exportd %s is installed on this machine; this test does not replace it", v)
	}
	if _, err := user.Lookup("exportd"); err == nil {
		t.Skip("an exportd user exists that the package did not make; this test would remove it on purge")
	}

	root := testsupport.ModuleRoot(t)
	dist := t.TempDir()
	build := exec.Command("make", "-C", root, "package", "PKG_VERSION="+testVersion, "DIST="+dist)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make package: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dist, "*.deb"))
	if len(debs) != 1 {
		t.Fatalf("make package made %v", debs)
	}

	// Whatever happens from here on, the package goes again.
	t.Cleanup(func() { purge(t) })
	t.Log(run(t, "dpkg", "-i", debs[0]))

	t.Run("files", func(t *testing.T) { checkFiles(t) })
	t.Run("version", func(t *testing.T) {
		if out := run(t, "/usr/bin/exportd", "version"); !strings.Contains(out, "exportd "+testVersion) {
			t.Fatalf("exportd version printed %q", out)
		}
	})
	t.Run("validate", func(t *testing.T) {
		out := runAs(t, "/usr/bin/exportd", "validate", "-config", "/etc/exportd/exportd.hcl")
		if !strings.Contains(out, "/etc/exportd/exportd.hcl: valid") {
			t.Fatalf("exportd validate printed %q", out)
		}
	})
	t.Run("systemd unit", func(t *testing.T) {
		if _, err := exec.LookPath("systemd-analyze"); err != nil {
			t.Skip("systemd-analyze is not installed (make tools installs Debian's systemd); the unit is not checked")
		}
		out, err := exec.Command("systemd-analyze", "verify", "/usr/lib/systemd/system/exportd.service").CombinedOutput()
		if err != nil || strings.Contains(string(out), "exportd.service") {
			t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
		}
	})
	t.Run("daemon exports as the exportd user", func(t *testing.T) { runInstalled(t) })
	t.Run("edited conffile kept on reinstall", func(t *testing.T) {
		const mark = "# edited by the package test\n"
		f, err := os.OpenFile("/etc/exportd/exportd.hcl", os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = f.WriteString(mark)
		f.Close()
		run(t, "dpkg", "-i", debs[0])
		b, err := os.ReadFile("/etc/exportd/exportd.hcl")
		if err != nil || !strings.HasSuffix(string(b), mark) {
			t.Fatalf("the edited /etc/exportd/exportd.hcl was replaced (err %v)", err)
		}
	})
}

// checkFiles checks the installed files' modes and owners, the exportd
// user, and that dpkg knows the configuration as a conffile.
func checkFiles(t *testing.T) {
	for _, p := range installed {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	u, err := user.Lookup("exportd")
	if err != nil {
		t.Fatalf("no exportd user: %v", err)
	}
	g, err := user.LookupGroup("exportd")
	if err != nil {
		t.Fatalf("no exportd group: %v", err)
	}
	if uid, _ := strconv.Atoi(u.Uid); uid >= 1000 {
		t.Errorf("exportd has uid %d; want a system user", uid)
	}
	if passwd := run(t, "getent", "passwd", "exportd"); !strings.HasSuffix(strings.TrimSpace(passwd), ":/var/lib/exportd:/usr/sbin/nologin") {
		t.Errorf("exportd's passwd entry: %s", passwd)
	}
	checks := []struct {
		path       string
		mode       os.FileMode
		uid, gid   string
		executable bool
	}{
		{"/usr/bin/exportd", 0o755, "0", "0", true},
		{"/usr/lib/exportd/plugins/exportd-plugin-localfs", 0o755, "0", "0", true},
		{"/usr/lib/exportd/plugins/exportd-plugin-s3legacy", 0o755, "0", "0", true},
		{"/usr/lib/exportd/plugins/exportd-plugin-gcs", 0o755, "0", "0", true},
		{"/usr/lib/exportd/plugins/exportd-plugin-azblob", 0o755, "0", "0", true},
		{"/etc/exportd/exportd.hcl", 0o640, "0", g.Gid, false},
		{"/var/lib/exportd", 0o750 | os.ModeDir, u.Uid, g.Gid, false},
	}
	for _, c := range checks {
		fi, err := os.Stat(c.path)
		if err != nil {
			continue // reported above
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != c.mode || fmt.Sprint(st.Uid) != c.uid || fmt.Sprint(st.Gid) != c.gid {
			t.Errorf("%s: mode %v owner %d:%d; want %v %s:%s", c.path, fi.Mode(), st.Uid, st.Gid, c.mode, c.uid, c.gid)
		}
	}
	if conf := run(t, "dpkg-query", "-W", "-f=${Conffiles}", "exportd"); !strings.Contains(conf, "/etc/exportd/exportd.hcl") {
		t.Errorf("/etc/exportd/exportd.hcl is not a conffile: %q", conf)
	}
}

// exportdCredential runs a command as the exportd user.
func exportdCredential(t *testing.T) *syscall.SysProcAttr {
	t.Helper()
	u, err := user.Lookup("exportd")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
}

func runAs(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = exportdCredential(t)
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s (as exportd): %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// runInstalled runs the installed daemon as the exportd user, on its data
// directory, with the plugins found where the package put them (the
// configuration names no plugin_dir), through one export.
func runInstalled(t *testing.T) {
	natsAddr, httpAddr := freeAddr(t), freeAddr(t)
	cfg := "/var/lib/exportd/pkgtest.hcl" // removed with the data directory
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
data_dir = "/var/lib/exportd"
nats { listen = %q }
http { listen = %q }
source "sample" { scale = 1 }
destination "localfs" "pkgtest" {
  account = "pkgtest"
  path    = "/var/lib/exportd/out"
}
`, natsAddr, httpAddr)), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command("/usr/bin/exportd", "run", "-config", cfg)
	cmd.SysProcAttr = exportdCredential(t)
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Error("the daemon did not stop within 60s of SIGTERM")
		}
	}
	defer func() {
		stop()
		if t.Failed() {
			t.Logf("exportd log:\n%s", log.String())
		}
	}()

	waitFor(t, "the daemon to be ready", exited, func() bool {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	runAs(t, "/usr/bin/exportd", "publish", "-config", cfg, "-account", "pkgtest")
	waitFor(t, "the receipt", exited, func() bool {
		_, err := os.Stat("/var/lib/exportd/out/receipt.json")
		return err == nil
	})
	stop()
	fi, err := os.Stat("/var/lib/exportd/out/receipt.json")
	if err != nil {
		t.Fatal(err)
	}
	if u := exportdCredential(t).Credential.Uid; fi.Sys().(*syscall.Stat_t).Uid != u {
		t.Errorf("the receipt is not owned by the exportd user")
	}
}

// purge removes the package and checks that nothing of it is left: no
// file, no data directory, no user.
func purge(t *testing.T) {
	out, err := exec.Command("dpkg", "--purge", "exportd").CombinedOutput()
	if err != nil {
		t.Errorf("dpkg --purge exportd: %v\n%s", err, out)
	}
	if v := installedVersion(); v != "" {
		t.Errorf("exportd %s is still known to dpkg after purge", v)
	}
	for _, p := range append(installed, "/etc/exportd", "/usr/lib/exportd", "/usr/share/exportd", "/usr/share/doc/exportd") {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s is left after purge", p)
		}
	}
	if _, err := user.Lookup("exportd"); err == nil {
		t.Error("the exportd user is left after purge")
	}
	if _, err := user.LookupGroup("exportd"); err == nil {
		t.Error("the exportd group is left after purge")
	}
}

func waitFor(t *testing.T, what string, exited <-chan struct{}, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !ok() {
		select {
		case <-exited:
			t.Fatalf("the daemon exited while waiting for %s", what)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
