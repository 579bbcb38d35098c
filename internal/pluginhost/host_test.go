package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/host"
)

func newHost(t *testing.T, specs []Spec, logs *testsupport.LogBuffer) (*Host, *atomic.Int32) {
	t.Helper()
	var restarts atomic.Int32
	if logs == nil {
		logs = &testsupport.LogBuffer{}
	}
	h := New(specs, Options{
		Dir:          testsupport.PluginDir(t, "localfs"),
		Logger:       slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnRestart:    func(string) { restarts.Add(1) },
		PollInterval: 50 * time.Millisecond,
	})
	t.Cleanup(h.Close)
	return h, &restarts
}

func TestLaunchConfigureCheck(t *testing.T) {
	ctx := context.Background()
	logs := &testsupport.LogBuffer{}
	h, _ := newHost(t, nil, logs)
	if err := h.Launch(ctx, []string{"localfs"}); err != nil {
		t.Fatal(err)
	}
	s, err := h.Schema("localfs")
	if err != nil || s.Name != "localfs" {
		t.Fatalf("schema %+v, %v", s, err)
	}
	d, err := h.Configure(ctx, sdk.DestinationInfo{Name: "d1", Account: "a"}, "localfs", sdk.NewConfig(map[string]any{"path": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := d.Check(ctx); err != nil || !strings.Contains(msg, "writable") {
		t.Fatalf("check: %q %v", msg, err)
	}
	// A bad configuration comes back as a configuration error naming the attribute.
	_, err = h.Configure(ctx, sdk.DestinationInfo{Name: "d2", Account: "a"}, "localfs", sdk.NewConfig(map[string]any{"path": "/x", "folder": "../up"}))
	if sdk.KindOf(err) != sdk.KindConfiguration || sdk.AttributeOf(err) != "folder" {
		t.Fatalf("bad config: %v", err)
	}
	// The plugin's own log records reach the daemon's log, tagged with its name.
	waitFor(t, func() bool { return strings.Contains(logs.String(), `msg="destination configured"`) })
	if !strings.Contains(logs.String(), "plugin=localfs") {
		t.Fatalf("plugin logs not tagged:\n%s", logs)
	}
}

func TestPinnedChecksum(t *testing.T) {
	ctx := context.Background()
	dir := testsupport.PluginDir(t, "localfs")
	bin, _ := filepath.EvalSymlinks(filepath.Join(dir, "exportd-plugin-localfs"))
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	good := hex.EncodeToString(sum[:])

	h, _ := newHost(t, []Spec{{Name: "localfs", SHA256: good}}, nil)
	if err := h.Launch(ctx, []string{"localfs"}); err != nil {
		t.Fatalf("matching pin: %v", err)
	}

	bad := strings.Repeat("0", 64)
	h2, _ := newHost(t, []Spec{{Name: "localfs", SHA256: bad}}, nil)
	err = h2.Launch(ctx, []string{"localfs"})
	if !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("mismatched pin: %v", err)
	}
	if !strings.Contains(err.Error(), good) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("error should show both digests: %v", err)
	}
	if _, err := h2.Schema("localfs"); err == nil {
		t.Fatal("plugin with a bad checksum is running")
	}
}

func TestNotInstalled(t *testing.T) {
	h, _ := newHost(t, nil, nil)
	err := h.Launch(context.Background(), []string{"nosuch"})
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "exportd-plugin-nosuch") {
		t.Fatalf("got %v", err)
	}
}

func TestRestartAfterCrash(t *testing.T) {
	ctx := context.Background()
	h, restarts := newHost(t, nil, nil)
	if err := h.Launch(ctx, []string{"localfs"}); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	d, err := h.Configure(ctx, sdk.DestinationInfo{Name: "d1", Account: "a"}, "localfs", sdk.NewConfig(map[string]any{"path": root}))
	if err != nil {
		t.Fatal(err)
	}
	exp, err := d.Begin(ctx, sdk.ExportInfo{ID: "e", Account: "a", RunID: "r", Time: time.Now().UTC(), Tables: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}

	h.mu.Lock()
	pid := h.plugins["localfs"].client.PID()
	h.mu.Unlock()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	// The export begun in the dead process fails, retryably.
	spool := filepath.Join(t.TempDir(), "f")
	os.WriteFile(spool, []byte("x"), 0o600)
	sum := sha256.Sum256([]byte("x"))
	waitFor(t, func() bool {
		err = exp.Put(ctx, sdk.File{Table: "t", Path: spool, Size: 1, SHA256: sum[:]})
		return err != nil
	})
	if !sdk.IsRetryable(err) {
		t.Fatalf("put into a dead plugin: %v, want retryable", err)
	}

	// The plugin comes back, with its destinations configured again.
	waitFor(t, func() bool { return restarts.Load() == 1 })
	if _, err := d.Check(ctx); err != nil {
		t.Fatalf("check after restart: %v", err)
	}
	exp2, err := d.Begin(ctx, sdk.ExportInfo{ID: "e2", Account: "a", RunID: "r", Time: time.Now().UTC(), Tables: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := exp2.Put(ctx, sdk.File{Table: "t", Path: spool, Size: 1, SHA256: sum[:]}); err != nil {
		t.Fatalf("put after restart: %v", err)
	}
	if _, err := exp2.Commit(ctx, sdk.Manifest{Tables: []sdk.TableManifest{{Name: "t", Files: 1}}}); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAttachToADebugPlugin: given a plugin running in debug mode, the
// host attaches to it instead of launching the binary (there is none in
// its plugin directory here), and leaves it running when it closes.
func TestAttachToADebugPlugin(t *testing.T) {
	ctx := context.Background()
	bin := testsupport.Binary(t, "./plugins/localfs/cmd/exportd-plugin-localfs", "exportd-plugin-localfs")
	attach, err := host.ParseReattach(testsupport.DebugPlugin(t, bin))
	if err != nil {
		t.Fatal(err)
	}
	logs := &testsupport.LogBuffer{}
	h := New([]Spec{{Name: "localfs", SHA256: strings.Repeat("0", 64)}}, Options{
		Dir:    t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Attach: attach,
	})
	if err := h.Launch(ctx, []string{"localfs"}); err != nil {
		t.Fatal(err)
	}
	d, err := h.Configure(ctx, sdk.DestinationInfo{Name: "d1", Account: "a"}, "localfs", sdk.NewConfig(map[string]any{"path": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := d.Check(ctx); err != nil || !strings.Contains(msg, "writable") {
		t.Fatalf("check: %q %v", msg, err)
	}
	if !strings.Contains(logs.String(), "attaching to a plugin in debug mode") {
		t.Fatalf("the host did not say that it attached:\n%s", logs)
	}
	h.Close()
	// Another daemon can attach to the plugin after this one let it go.
	again := New(nil, Options{Attach: attach})
	defer again.Close()
	if err := again.Launch(ctx, []string{"localfs"}); err != nil {
		t.Fatalf("attach again after the first host closed: %v", err)
	}
}

// TestDestinationsKnowTheirPluginsLimit: a configured destination reports
// the max object size its plugin declares, for the job engine.
func TestDestinationsKnowTheirPluginsLimit(t *testing.T) {
	ctx := context.Background()
	h := New(nil, Options{Dir: testsupport.PluginDir(t, "s3legacy", "localfs")})
	t.Cleanup(h.Close)
	if err := h.Launch(ctx, []string{"s3legacy", "localfs"}); err != nil {
		t.Fatal(err)
	}
	s3, err := h.Configure(ctx, sdk.DestinationInfo{Name: "s3", Account: "acme"}, "s3legacy",
		sdk.NewConfig(map[string]any{"bucket": "acme-dump", "role_arn": "arn:aws:iam::123456789012:role/x"}))
	if err != nil {
		t.Fatal(err)
	}
	local, err := h.Configure(ctx, sdk.DestinationInfo{Name: "local", Account: "acme"}, "localfs", sdk.NewConfig(map[string]any{"path": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	if got := s3.MaxObjectSize(); got != 5<<30 {
		t.Errorf("s3legacy: %d, want 5 GiB", got)
	}
	if got := local.MaxObjectSize(); got != 0 {
		t.Errorf("localfs: %d, want no limit", got)
	}
}
