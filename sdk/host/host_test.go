package host_test

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/destinationtest"
	"github.com/exportd/exportd/sdk/host"
)

func TestMain(m *testing.M) {
	if servePluginFromEnv() {
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestThreeWaysToAPlugin drives the same plugin served in-process,
// launched as a binary (this test binary) and attached to in debug mode,
// and checks that schema, errors and exports cross the protocol whole in
// each.
func TestThreeWaysToAPlugin(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T) *host.Client
	}{
		{"in-process", startInProcess},
		{"launched", launchSelf},
		{"attached in debug mode", attachToDebugSelf},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.start(t)
			t.Run("schema", func(t *testing.T) { requireSchema(t, c.Schema()) })
			t.Run("errors", func(t *testing.T) { requireErrors(t, c) })
			t.Run("export", func(t *testing.T) { requireExport(t, c) })
		})
	}
}

func testLogger(t *testing.T) *slog.Logger { return destinationtest.TestLogger(t) }

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func startInProcess(t *testing.T) *host.Client {
	c, err := host.Start(ctxFor(t), probePlugin{}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Kill)
	return c
}

func launchSelf(t *testing.T) *host.Client {
	c, err := host.Launch(ctxFor(t), host.LaunchConfig{
		Path:   os.Args[0],
		Env:    []string{"EXPORTD_HOST_TEST_PLUGIN=serve"},
		Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Kill)
	return c
}

// attachToDebugSelf starts this test binary as a plugin in debug mode,
// reads the variable it prints, and attaches as the daemon would.
func attachToDebugSelf(t *testing.T) *host.Client {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "EXPORTD_HOST_TEST_PLUGIN=debug")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = destinationtest.TestLogWriter(t)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("the plugin in debug mode did not end cleanly on an interrupt: %v", err)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("the plugin in debug mode did not end on an interrupt")
		}
	})
	var value string
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		t.Log("plugin: " + lines.Text())
		if v, ok := strings.CutPrefix(strings.TrimSpace(lines.Text()), host.ReattachEnv+"='"); ok {
			value = strings.TrimSuffix(v, "'")
			break
		}
	}
	go func() {
		for lines.Scan() {
		}
		exited <- cmd.Wait()
	}()
	if value == "" {
		t.Fatalf("the plugin in debug mode printed no %s", host.ReattachEnv)
	}
	plugins, err := host.ParseReattach(value)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := plugins["probe"]
	if !ok || r.PID != cmd.Process.Pid {
		t.Fatalf("reattach config %+v, want plugin probe in pid %d", plugins, cmd.Process.Pid)
	}
	c, err := host.Attach(ctxFor(t), r, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Kill)
	return c
}

func requireSchema(t *testing.T, got sdk.Schema) {
	if got.Name != probeSchema.Name || got.Capabilities != probeSchema.Capabilities || len(got.Attributes) != len(probeSchema.Attributes) {
		t.Fatalf("schema after the wire: %+v", got)
	}
	for i, a := range probeSchema.Attributes {
		g := got.Attributes[i]
		wantDef, _ := json.Marshal(a.Default)
		gotDef, _ := json.Marshal(g.Default)
		if g.Name != a.Name || g.Type != a.Type || g.Sensitive != a.Sensitive || g.OperatorOnly != a.OperatorOnly ||
			g.Description != a.Description || !reflect.DeepEqual(g.Enum, a.Enum) || !reflect.DeepEqual(g.Min, a.Min) ||
			!reflect.DeepEqual(g.Max, a.Max) || string(gotDef) != string(wantDef) {
			t.Errorf("attribute %s after the wire: %+v, want %+v", a.Name, g, a)
		}
	}
}

func requireErrors(t *testing.T, c *host.Client) {
	ctx := ctxFor(t)
	_, err := c.Configure(ctx, sdk.DestinationInfo{Name: "bad"}, sdk.NewConfig(map[string]any{"concurrency": 65}))
	if sdk.KindOf(err) != sdk.KindConfiguration || sdk.AttributeOf(err) != "concurrency" || !strings.Contains(err.Error(), "65 is not a whole number from 1 to 64") {
		t.Fatalf("Configure out of range: %v", err)
	}
	tests := []struct {
		fail     string
		kind     sdk.ErrorKind
		attr     string
		platform bool
	}{
		{"retryable", sdk.KindRetryable, "", false},
		{"permanent", sdk.KindPermanent, "", false},
		{"configuration", sdk.KindConfiguration, "token", false},
		{"platform", sdk.KindConfiguration, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.fail, func(t *testing.T) {
			d, err := c.Configure(ctx, sdk.DestinationInfo{Name: "d-" + tt.fail}, sdk.NewConfig(map[string]any{"fail": tt.fail, "token": "hunter2-secret"}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = d.Check(ctx)
			if sdk.KindOf(err) != tt.kind || sdk.AttributeOf(err) != tt.attr || sdk.IsPlatformError(err) != tt.platform {
				t.Fatalf("got %v (kind %v, attribute %q, platform %t)", err, sdk.KindOf(err), sdk.AttributeOf(err), sdk.IsPlatformError(err))
			}
			if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "refused with token (sensitive)") {
				t.Fatalf("error %q", err)
			}
		})
	}
	d, err := c.Configure(ctx, sdk.DestinationInfo{Name: "fine"}, sdk.NewConfig(map[string]any{}))
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := d.Check(ctx); err != nil || msg != "fine, concurrency 4" {
		t.Fatalf("Check with the defaults: %q, %v", msg, err)
	}
}

func requireExport(t *testing.T, c *host.Client) {
	ctx := ctxFor(t)
	d, err := c.Configure(ctx, sdk.DestinationInfo{Name: "export"}, sdk.NewConfig(map[string]any{}))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 5, 1, 10, 30, 5, 123456000, time.UTC)
	info := sdk.ExportInfo{ID: "x", Account: "acme", RunID: "r", Time: at, Tables: []string{"a"}, PreviousTime: at.Add(-time.Hour), ExporterVersion: "v1.2.3"}
	exp, err := d.Begin(ctx, info)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("parquet bytes")
	path := filepath.Join(t.TempDir(), "a.parquet")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sha := sha256.Sum256(data)
	if err := exp.Put(ctx, sdk.File{Table: "a", Index: 0, Path: path, Size: int64(len(data)), Rows: 7, SHA256: sha[:]}); err != nil {
		t.Fatal(err)
	}
	m := sdk.Manifest{Tables: []sdk.TableManifest{
		{Name: "a", Files: 1, Rows: 7, Bytes: int64(len(data)),
			Columns:  []sdk.Column{{Name: "id", Type: "INT64"}, {Name: "tags", Type: "LIST<BYTE_ARRAY (STRING)>"}},
			FileList: []sdk.ManifestFile{{Index: 0, Size: int64(len(data)), Rows: 7, SHA256: sha[:]}}},
		{Name: "b", Files: 2, Rows: 3, Bytes: 4, Carried: at.Add(-time.Hour)},
	}}
	rc, err := exp.Commit(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Info     sdk.ExportInfo
		Manifest sdk.Manifest
		MD5      map[string]string
	}
	if err := json.Unmarshal(rc.Body, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Info, info) {
		t.Errorf("Begin after the wire: %+v, want %+v", got.Info, info)
	}
	if !reflect.DeepEqual(got.Manifest, m) {
		t.Errorf("Commit after the wire: %+v, want %+v", got.Manifest, m)
	}
	if want := fmt.Sprintf("%x", md5.Sum(data)); got.MD5["a/0"] != want {
		t.Errorf("OpenVerified fed the sums %q, want %s", got.MD5["a/0"], want)
	}
}
