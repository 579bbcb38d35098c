package pluginhost

import (
	"context"
	"strings"
	"syscall"
	"testing"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
)

// TestInstancesSideBySide: two configurations of one destination live in
// the plugin side by side, each its own; removing one makes the plugin
// forget it (calls that reach the plugin for it fail there) and leaves the
// other alone. A restarted plugin is not given the removed one again.
func TestInstancesSideBySide(t *testing.T) {
	ctx := context.Background()
	logs := &testsupport.LogBuffer{}
	h, restarts := newHost(t, nil, logs)
	if err := h.Launch(ctx, []string{"localfs"}); err != nil {
		t.Fatal(err)
	}
	a, b := t.TempDir(), t.TempDir()
	info := sdk.DestinationInfo{Name: "d1", Account: "acme"}
	da, err := h.Configure(ctx, info, "localfs", sdk.NewConfig(map[string]any{"path": a}))
	if err != nil {
		t.Fatal(err)
	}
	db, err := h.Configure(ctx, info, "localfs", sdk.NewConfig(map[string]any{"path": b}))
	if err != nil {
		t.Fatal(err)
	}
	checks := func(d *Destination) string {
		msg, err := d.Check(ctx)
		if err != nil {
			return err.Error()
		}
		return msg
	}
	if !strings.Contains(checks(da), a) || !strings.Contains(checks(db), b) {
		t.Fatalf("instances: %q, %q", checks(da), checks(db))
	}
	// The plugin logs the destination's name, not the instance's key.
	waitFor(t, func() bool { return strings.Contains(logs.String(), "destination=d1 key=d1@") })

	stale := da.remote // what still addresses the instance in the plugin
	if err := da.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := stale.Check(ctx); err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Fatalf("the plugin still has the removed instance: %v", err)
	}
	if _, err := da.Check(ctx); err == nil || !strings.Contains(err.Error(), "removed") {
		t.Fatalf("check of a removed destination: %v", err)
	}
	if !strings.Contains(checks(db), b) {
		t.Fatalf("removing one instance broke the other: %s", checks(db))
	}

	// After a crash, the restarted process gets only what was not removed.
	h.mu.Lock()
	pid := h.plugins["localfs"].client.PID()
	h.mu.Unlock()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return restarts.Load() == 1 && strings.Contains(checks(db), b) })
	h.mu.Lock()
	n := len(h.dests)
	h.mu.Unlock()
	if n != 1 {
		t.Fatalf("the host keeps %d instances, want 1", n)
	}
}
