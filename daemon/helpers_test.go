package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/internal/trigger"
	"github.com/nats-io/nats.go/jetstream"
)

// exportdBinary builds the exportd command under test.
func exportdBinary(t testing.TB) string {
	return testsupport.Binary(t, "./daemon", "exportd")
}

// writeConfig writes an HCL configuration into a fresh directory.
func writeConfig(t testing.TB, hcl string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "exportd.hcl")
	if err := os.WriteFile(p, []byte(hcl), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// daemon is a running `exportd run`.
type daemon struct {
	cmd  *exec.Cmd
	out  *testsupport.LogBuffer
	done chan error
}

// startDaemon runs `exportd run -config path` until the test ends.
func startDaemon(t testing.TB, path string, env ...string) *daemon {
	t.Helper()
	d := &daemon{out: &testsupport.LogBuffer{}, done: make(chan error, 1)}
	d.cmd = exec.Command(exportdBinary(t), "run", "-config", path)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	d.cmd.Env = append(os.Environ(), env...)
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			t.Logf("exportd output:\n%s", d.out)
		}
	})
	return d
}

// stop sends SIGTERM and waits for the daemon to exit.
func (d *daemon) stop(t testing.TB) {
	if d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		t.Errorf("exportd did not stop within 60s of SIGTERM")
	}
}

// waitLog waits until the daemon's output contains s.
func (d *daemon) waitLog(t testing.TB, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(d.out.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("exportd never logged %q; output:\n%s", s, d.out)
		}
		select {
		case err := <-d.done:
			t.Fatalf("exportd exited (%v) before logging %q; output:\n%s", err, s, d.out)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// publish publishes an event, retrying while the daemon has not created
// the stream yet.
func publish(t testing.TB, js jetstream.JetStream, ev event.ModellingCompleted) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		_, err := trigger.PublishEvent(ctx, js, ev)
		if err == nil {
			return
		}
		if !errors.Is(err, jetstream.ErrNoStreamResponse) || ctx.Err() != nil {
			t.Fatalf("publish: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitFile waits until a file exists.
func waitFile(t testing.TB, path string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v", path, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func jetstreamMsgID(id string) jetstream.PublishOpt { return jetstream.WithMsgID(id) }
