package testsupport

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// natsServerPackage is the nats-server main package, built from the
// version go.mod pins, so the standalone server is the one the tests embed.
const natsServerPackage = "github.com/nats-io/nats-server/v2"

// NATSProcess is a standalone nats-server with JetStream: a process of its
// own on 127.0.0.1, for tests and benchmarks that must measure it apart
// from the test process (its CPU time) or kill it.
type NATSProcess struct {
	URL  string
	proc *serverProcess
}

// StartNATSProcess builds nats-server (once per test process, from the
// module cache) and starts it with JetStream in a temporary store, on a
// free loopback port. It is stopped when the test ends.
func StartNATSProcess(tb testing.TB) *NATSProcess {
	tb.Helper()
	bin := Binary(tb, natsServerPackage, "nats-server")
	dir := tb.TempDir()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := loopbackPort()
		if err != nil {
			tb.Fatal(err)
		}
		cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port),
			"-js", "-sd", filepath.Join(dir, "store"))
		p, err := startServerProcess("nats-server", cmd, filepath.Join(dir, fmt.Sprintf("nats-server-%d.log", attempt)))
		if err != nil {
			tb.Fatal(err)
		}
		n := &NATSProcess{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), proc: p}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = n.waitReady(ctx)
		cancel()
		if err == nil {
			tb.Cleanup(p.Stop)
			return n
		}
		p.Stop()
		lastErr = err // most likely the port was taken meanwhile
	}
	tb.Fatalf("nats-server did not start: %v", lastErr)
	return nil
}

// waitReady connects until JetStream answers, the process exits, or ctx
// ends.
func (n *NATSProcess) waitReady(ctx context.Context) error {
	for {
		nc, err := nats.Connect(n.URL, nats.Timeout(time.Second))
		if err == nil {
			_, err = nc.Request("$JS.API.INFO", nil, time.Second)
			nc.Close()
			if err == nil {
				return nil
			}
		}
		if n.proc.exited() {
			return fmt.Errorf("nats-server exited during startup:\n%s", n.proc.logTail())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nats-server did not answer on %s: %w (last: %v)", n.URL, ctx.Err(), err)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// PID is the server's process id.
func (n *NATSProcess) PID() int { return n.proc.cmd.Process.Pid }

// Stop ends the server. It is safe to call more than once.
func (n *NATSProcess) Stop() { n.proc.Stop() }
