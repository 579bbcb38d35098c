// Package cluster_test checks the three-VM example in this folder: the
// exportd configuration decodes, and nats-server runs a three-node cluster
// on its configuration in which two exportd replicas, signed in as its
// exportd user, start, export the events the platform user publishes, and
// answer a re-export: the permissions it grants are the ones exportd needs.
package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/job"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk/legacylayout"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// user is a generated nkey user: its seed in a file, its public key.
type user struct {
	seedFile, public string
	kp               nkeys.KeyPair
}

func newUser(t *testing.T, name string) user {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	f := filepath.Join(t.TempDir(), name+".nk")
	if err := os.WriteFile(f, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	return user{seedFile: f, public: pub, kp: kp}
}

func (u user) option(t *testing.T) nats.Option {
	t.Helper()
	opt, err := nats.NkeyOptionFromSeed(u.seedFile)
	if err != nil {
		t.Fatal(err)
	}
	return opt
}

type users struct{ exportd, platform, app, operator user }

func newUsers(t *testing.T) users {
	return users{newUser(t, "exportd"), newUser(t, "platform"), newUser(t, "app"), newUser(t, "operator")}
}

func (u users) env(name string) []string {
	return []string{"NATS_SERVER_NAME=" + name, "EXPORTD_NKEY=" + u.exportd.public,
		"PLATFORM_NKEY=" + u.platform.public, "APP_NKEY=" + u.app.public, "OPERATOR_NKEY=" + u.operator.public}
}

func TestExampleConfigsParse(t *testing.T) {
	src, err := os.ReadFile("exportd.hcl")
	if err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Parse(src, "exportd.hcl", t.TempDir())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if n := len(strings.Split(cfg.NATS.URL, ",")); n != 3 || cfg.NATS.Replicas != 3 {
		t.Fatalf("nats { url = %q replicas = %d }: want three URLs and three replicas", cfg.NATS.URL, cfg.NATS.Replicas)
	}
	u := newUsers(t)
	for _, kv := range u.env("vm1") {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	opts, err := server.ProcessConfigFile("nats-server.conf")
	if err != nil {
		t.Fatal(err)
	}
	if opts.ServerName != "vm1" || opts.Cluster.Name != "exportd" || len(opts.Routes) != 3 || !opts.JetStream || opts.SystemAccount != "SYS" {
		t.Fatalf("nats-server.conf: server %q, cluster %q, %d routes, JetStream %v, system account %q",
			opts.ServerName, opts.Cluster.Name, len(opts.Routes), opts.JetStream, opts.SystemAccount)
	}
}

// TestExampleCluster runs the example on loopback: the nodes' addresses,
// ports, routes and stores come from the test, everything else (accounts,
// users, permissions, JetStream) from nats-server.conf; the replicas'
// nats block is exportd.hcl's, with the nodes' URLs.
func TestExampleCluster(t *testing.T) {
	u := newUsers(t)
	conf, _ := filepath.Abs("nats-server.conf")
	c := testsupport.StartNATSCluster(t, testsupport.NATSClusterOptions{
		ConfigFile: conf,
		Env:        u.env("from-the-command-line"),
		Client:     []nats.Option{u.exportd.option(t)},
	})

	out := t.TempDir()
	accounts := []string{"acme", "globex", "initech"}
	bin := testsupport.Binary(t, "./daemon", "exportd")
	var replicas []*exportd
	var cfg string
	for range 2 {
		cfg = replicaConfig(t, c.URLs(), u.exportd.seedFile, out, accounts) // a data directory each
		replicas = append(replicas, startExportd(t, bin, cfg))
	}
	for _, r := range replicas {
		r.waitLog(t, "exportd running", 2*time.Minute)
	}

	// The platform publishes one event per account.
	nc, err := nats.Connect(c.URLs(), u.platform.option(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The platform app registers a customer's destination through the
	// API, with its own user, which may do nothing else.
	registered := filepath.Join(out, "umbrella")
	put := exec.CommandContext(ctx, bin, "destinations", "put", "-nats", c.URLs(), "-nkey", u.app.seedFile, "-plugin", "regfs",
		"-name", "umbrella", "-account", "umbrella", "-set", "path="+registered, "-set", "fsync=false")
	if b, err := put.CombinedOutput(); err != nil {
		t.Fatalf("the app registers a destination: %v\n%s", err, b)
	}
	// Every replica applies the registration from its watch of the
	// registry, a moment after the API has answered.
	for _, r := range replicas {
		r.waitLog(t, `msg="registered destination added" destination=umbrella`, time.Minute)
	}
	other, err := nats.Connect(c.URLs(), u.platform.option(t))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Publish("exportd.api.destinations.list", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	_ = other.Flush()
	if err := other.LastError(); err == nil || !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
		t.Errorf("the platform user may use the registry API (last error %v): only the app's user may", err)
	}

	for _, a := range append(accounts, "umbrella") {
		ev := event.ModellingCompleted{AccountID: a, RunID: a + "-run-1", CompletedAt: time.Now().UTC()}
		if _, err := js.Publish(ctx, event.Subject(a), ev.Encode(), jetstream.WithMsgID(event.MsgID(ev))); err != nil {
			t.Fatalf("the platform user publishes an event: %v", err)
		}
	}
	for _, a := range accounts {
		waitReceipt(t, filepath.Join(out, a), 2*time.Minute)
	}
	waitReceipt(t, registered, 2*time.Minute)

	// An operator's re-export, through the exportd user, waits for its
	// outcome.
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "reexport", "-config", cfg, "-account", "acme", "-wait", "-timeout", "90s")
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Run(); err != nil {
		t.Fatalf("exportd reexport: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), job.StatusCommitted) {
		t.Fatalf("the re-export did not commit:\n%s", stdout.String())
	}
	for _, r := range replicas {
		if s := r.out.String(); strings.Contains(s, "level=ERROR") || strings.Contains(strings.ToLower(s), "permissions violation") {
			t.Errorf("a replica logged an error:\n%s", s)
		}
	}
}

// replicaConfig is exportd.hcl's nats block pointed at the test cluster,
// with the sample source and one localfs destination per account.
func replicaConfig(t *testing.T, urls, seedFile, out string, accounts []string) string {
	t.Helper()
	src, err := os.ReadFile("exportd.hcl")
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(src, []byte("nats {"))
	end := start + bytes.Index(src[start:], []byte("\n}\n")) + 3
	block := string(src[start:end])
	block = strings.Replace(block, `"nats://vm1:4222,nats://vm2:4222,nats://vm3:4222"`, fmt.Sprintf("%q", urls), 1)
	block = strings.Replace(block, `"/etc/exportd/nats.nk"`, fmt.Sprintf("%q", seedFile), 1)
	if !strings.Contains(block, urls) || !strings.Contains(block, seedFile) {
		t.Fatalf("exportd.hcl's nats block changed; update the test:\n%s", block)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "data_dir = %q\nplugin_dir = %q\nhttp { listen = \"\" }\nlog { level = \"debug\" }\n%s\nsource \"sample\" { scale = 0.01 }\n",
		t.TempDir(), testsupport.PluginDir(t, "localfs", "regfs"), block)
	for _, a := range accounts {
		fmt.Fprintf(&b, "destination \"localfs\" %q {\n  account = %q\n  path    = %q\n  fsync   = false\n}\n", a, a, filepath.Join(out, a))
	}
	p := filepath.Join(t.TempDir(), "exportd.hcl")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func waitReceipt(t *testing.T, root string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		body, err := os.ReadFile(filepath.Join(root, legacylayout.ReceiptName))
		if err == nil {
			var rc map[string]any
			if err := json.Unmarshal(body, &rc); err != nil {
				t.Fatal(err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no receipt in %s after %v", root, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// exportd is a running `exportd run`.
type exportd struct {
	cmd  *exec.Cmd
	out  *testsupport.LogBuffer
	done chan struct{}
}

func startExportd(t *testing.T, bin, cfg string) *exportd {
	t.Helper()
	e := &exportd{out: &testsupport.LogBuffer{}, done: make(chan struct{})}
	e.cmd = exec.Command(bin, "run", "-config", cfg)
	e.cmd.Stdout, e.cmd.Stderr = e.out, e.out
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = e.cmd.Wait()
		close(e.done)
	}()
	t.Cleanup(func() {
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.done:
		case <-time.After(time.Minute):
			_ = e.cmd.Process.Kill()
			<-e.done
		}
		if t.Failed() {
			t.Logf("exportd output:\n%s", e.out)
		}
	})
	return e
}

func (e *exportd) waitLog(t *testing.T, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(e.out.String(), s) {
		select {
		case <-e.done:
			t.Fatalf("exportd exited before logging %q:\n%s", s, e.out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("exportd never logged %q:\n%s", s, e.out)
		}
	}
}
