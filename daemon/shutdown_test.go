package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
)

// TestGracefulShutdown: on SIGTERM a daemon stops taking events but lets
// the export in flight finish, then exits cleanly.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	c := newCluster(t, []string{"acme"}, longRows)
	d := c.start()
	c.publish(event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC()})
	c.waitDelivering("acme")
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.waitExit(t, 2*time.Minute)
	if !d.cmd.ProcessState.Success() {
		t.Fatalf("exportd exited with %v; output:\n%s", d.cmd.ProcessState, d.out)
	}
	if c.receipt("acme") == nil {
		t.Fatalf("the export in flight did not finish before exit; output:\n%s", d.out)
	}
	checkDump(t, filepath.Join(c.out, "acme"), "dumps", "acme", c.rows, c.receipt("acme"), false)
}

// TestShutdownAfterGracePeriod: an export that outlasts the grace period
// is cancelled, its event goes back to JetStream, and another replica
// completes it.
func TestShutdownAfterGracePeriod(t *testing.T) {
	t.Parallel()
	c := newCluster(t, []string{"acme"}, longRows)
	c.grace = "0s"
	d := c.start()
	c.publish(event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC()})
	c.waitDelivering("acme")
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.waitExit(t, time.Minute)
	if !strings.Contains(d.out.String(), "grace period over") {
		t.Fatalf("no cancellation logged:\n%s", d.out)
	}
	if c.receipt("acme") != nil {
		t.Fatal("a cancelled export wrote its receipt")
	}
	c.grace = ""
	c.start()
	waitFile(t, filepath.Join(c.out, "acme", "dumps", "receipt.json"), 2*time.Minute)
	c.settle(time.Minute)
	checkDump(t, filepath.Join(c.out, "acme"), "dumps", "acme", c.rows, c.receipt("acme"), false)
}
