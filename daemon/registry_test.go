package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/registry"
	"github.com/exportd/exportd/internal/testsupport"
)

// runCLI runs the exportd command with args and returns its output and
// exit code.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(exportdBinary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return stdout.String(), stderr.String(), exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), 0
}

// registryConfig is a daemon on an external NATS with a registry key and
// small sample data; extra is appended.
func registryConfig(t *testing.T, natsURL, pluginDir, extra string) string {
	t.Helper()
	keyFile := filepath.Join(t.TempDir(), "registry.key")
	writeKeys(t, keyFile, newKey(t, "k1"))
	return fmt.Sprintf(`
data_dir   = %q
plugin_dir = %q
log { level = "debug" }
nats { url = %q }
http { listen = "" }
source "sample" {
  rows = { companies = 5, contacts = 5, events = 5, revenue = 5, revenue_attribution = 5, paid_ads = 0 }
}
registry { key_file = %q }
%s
`, t.TempDir(), pluginDir, natsURL, keyFile, extra)
}

// TestDestinationsRegisteredAtRunTime: destinations registered, changed
// and deleted through `exportd destinations` apply at once in every
// running daemon, without a restart.
func TestDestinationsRegisteredAtRunTime(t *testing.T) {
	t.Parallel()
	ns := testsupport.StartNATS(t)
	_, js := ns.Connect(t)
	plugins := testsupport.PluginDir(t, "localfs", testsupport.RegFS)
	replicas := []*daemon{
		startDaemon(t, writeConfig(t, registryConfig(t, ns.URL, plugins, ""))),
		startDaemon(t, writeConfig(t, registryConfig(t, ns.URL, plugins, ""))),
	}
	for _, d := range replicas {
		d.waitLog(t, "exportd running", time.Minute)
	}
	cli := func(args ...string) (string, string, int) {
		return runCLI(t, append([]string{"destinations", args[0], "-nats", ns.URL}, args[1:]...)...)
	}
	put := func(name, account, dir string, extra ...string) {
		t.Helper()
		out, errOut, code := cli(append([]string{"put", "-plugin", testsupport.RegFS, "-name", name, "-account", account, "-set", "path=" + dir, "-check"}, extra...)...)
		if code != 0 || !strings.Contains(out, name+": registered") || !strings.Contains(out, "check: directory "+dir+" is writable") {
			t.Fatalf("put %s: exit %d\n%s%s", name, code, out, errOut)
		}
	}
	published := 0
	export := func(account string) {
		t.Helper()
		published++
		publish(t, js, event.ModellingCompleted{AccountID: account, RunID: fmt.Sprintf("run-%d", published), CompletedAt: time.Now().UTC().Add(-time.Second)})
	}

	// Registered: every replica applies it, and the next event exports to it.
	d1 := t.TempDir()
	put("reg1", "a1", d1)
	for _, d := range replicas {
		d.waitLog(t, "destination=reg1", 30*time.Second)
	}
	export("a1")
	waitFile(t, filepath.Join(d1, "receipt.json"), 2*time.Minute)

	// Changed before its first export: the export goes where it says now.
	d2, d3 := t.TempDir(), t.TempDir()
	put("reg2", "a2", d2)
	put("reg2", "a2", d3, "-table", "companies", "-table", "events")
	for _, d := range replicas {
		d.waitLog(t, "registered destination changed", 30*time.Second)
	}
	export("a2")
	waitFile(t, filepath.Join(d3, "receipt.json"), 2*time.Minute)
	if _, err := os.Stat(filepath.Join(d2, "receipt.json")); err == nil {
		t.Fatal("the export went to the registration's old path")
	}
	if folders, _ := filepath.Glob(filepath.Join(d3, "*", "*")); len(folders) != 2 {
		t.Fatalf("the changed registration's tables were not applied: %v", folders)
	}

	// Deleted: no export goes to it.
	d4 := t.TempDir()
	put("reg3", "a3", d4)
	if out, errOut, code := cli("delete", "-name", "reg3"); code != 0 {
		t.Fatalf("delete: exit %d\n%s%s", code, out, errOut)
	}
	for _, d := range replicas {
		d.waitLog(t, "registered destination removed", 30*time.Second)
	}
	export("a3")
	waitReplicasLog(t, replicas, "nothing to export", time.Minute)
	if _, err := os.Stat(filepath.Join(d4, "receipt.json")); err == nil {
		t.Fatal("a deleted registration received a dump")
	}

	// validate refuses a file with a destination named like a registered one.
	clash := writeConfig(t, registryConfig(t, ns.URL, plugins, fmt.Sprintf("destination \"localfs\" \"reg1\" {\n  account = \"a1\"\n  path = %q\n}\n", d1)))
	if _, errOut, code := runCLI(t, "validate", "-config", clash); code != 1 || !strings.Contains(errOut, "error: Destination also registered") {
		t.Fatalf("validate of a file naming a registered destination: exit %d\n%s", code, errOut)
	}

	// What the CLI shows, and how it refuses.
	if out, _, code := cli("list", "-account", "a2"); code != 0 || !strings.Contains(out, "reg2") || strings.Contains(out, "reg1") {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	if out, _, code := cli("get", "-name", "reg2"); code != 0 || !strings.Contains(out, "tables:   companies, events") {
		t.Fatalf("get: exit %d\n%s", code, out)
	}
	_, errOut, code := cli("put", "-plugin", testsupport.RegFS, "-name", "reg4", "-account", "a4", "-set", "pth=/tmp")
	if code != 1 || !strings.Contains(errOut, "refused (invalid)") || !strings.Contains(errOut, "attribute: pth") {
		t.Fatalf("put with a misspelt attribute: exit %d\n%s", code, errOut)
	}
}

// waitReplicasLog waits until one of the daemons logged s.
func waitReplicasLog(t *testing.T, ds []*daemon, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, d := range ds {
			if strings.Contains(d.out.String(), s) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no daemon logged %q", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReloadOnHangup: SIGHUP reloads the configuration file: a good file's
// destinations take effect for the next exports; a bad file is refused
// with its diagnostics and the daemon keeps the configuration it had;
// settings that cannot change live are said to need a restart.
func TestReloadOnHangup(t *testing.T) {
	t.Parallel()
	ns := testsupport.StartNATS(t)
	_, js := ns.Connect(t)
	plugins := testsupport.PluginDir(t, "localfs")
	a, b := t.TempDir(), t.TempDir()
	dest := func(name, dir string) string {
		return fmt.Sprintf("destination \"localfs\" %q {\n  account = \"acme\"\n  path    = %q\n}\n", name, dir)
	}
	base := registryConfig(t, ns.URL, plugins, "")
	path := writeConfig(t, base+dest("a", a))
	d := startDaemon(t, path)
	d.waitLog(t, "exportd running", time.Minute)
	hangup := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}

	// A good file: destination b is added, jobs needs a restart.
	hangup(base + "jobs { workers = 3 }\n" + dest("a", a) + dest("b", b))
	d.waitLog(t, "configuration reloaded", 30*time.Second)
	d.waitLog(t, "settings=jobs", 10*time.Second)
	publish(t, js, event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC().Add(-time.Second)})
	waitFile(t, filepath.Join(a, "receipt.json"), 2*time.Minute)
	waitFile(t, filepath.Join(b, "receipt.json"), 2*time.Minute)

	// A bad file: refused with file:line:col, and b stays configured.
	bad := base + dest("a", a) + strings.Replace(dest("b", b), "path ", "pth  ", 1)
	hangup(bad)
	d.waitLog(t, "configuration reload refused", 30*time.Second)
	line := strings.Count(bad[:strings.Index(bad, "pth")], "\n") + 1
	d.waitLog(t, fmt.Sprintf("exportd.hcl:%d:3: error: Unsupported argument", line), 10*time.Second)
	out, errOut, code := runCLI(t, "destinations", "check", "-nats", ns.URL, "-name", "b")
	if code != 0 || !strings.Contains(out, "directory "+b+" is writable") {
		t.Fatalf("b after the refused reload: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(d.out.String(), "exportd stopped") {
		t.Fatal("the daemon stopped")
	}
}

func newKey(t *testing.T, id string) string {
	t.Helper()
	line, err := registry.NewKeyLine(id)
	if err != nil {
		t.Fatal(err)
	}
	return line
}

func writeKeys(t *testing.T, path string, lines ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestKeyRotation: with a new key put first in the key file, a reload
// makes the daemon seal registered secrets again with it.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	ns := testsupport.StartNATS(t)
	cfg := registryConfig(t, ns.URL, testsupport.PluginDir(t, "azblob"), "")
	keyFile := cfg[strings.Index(cfg, "key_file = ")+len("key_file = ")+1:]
	keyFile = keyFile[:strings.Index(keyFile, `"`)]
	k1, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, writeConfig(t, cfg))
	d.waitLog(t, "exportd running", time.Minute)
	out, errOut, code := runCLI(t, "destinations", "put", "-nats", ns.URL, "-plugin", "azblob", "-name", "umbrella", "-account", "umbrella",
		"-set", "storage_account=umbrelladata", "-set", "container=dumps",
		"-set", "sas_token=sv=2024-05-04&sp=cw&se=2030-01-01T00%3A00%3A00Z&sr=c&sig=c2VjcmV0")
	if code != 0 {
		t.Fatalf("put: exit %d\n%s%s", code, out, errOut)
	}
	writeKeys(t, keyFile, newKey(t, "k2"), strings.TrimSpace(string(k1)))
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitLog(t, `sealed again with the current key" key=k2 destinations=1`, 30*time.Second)
	out, errOut, code = runCLI(t, "destinations", "get", "-nats", ns.URL, "-name", "umbrella")
	if code != 0 || !strings.Contains(out, "sealed with key(s): k2") || strings.Contains(out, "c2VjcmV0") {
		t.Fatalf("get: exit %d\n%s%s", code, out, errOut)
	}
}
