package testsupport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// serverProcess is a server started by a helper in this package: its own
// process group on 127.0.0.1, its log in a file, stopped by Stop.
type serverProcess struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}

	stopOnce sync.Once
}

// loopbackPort asks the kernel for a free TCP port on 127.0.0.1. Another
// process may take it before the server binds it; callers retry.
func loopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServerProcess runs cmd in its own process group with its output in
// logPath. The process is killed if this test process dies.
func startServerProcess(name string, cmd *exec.Cmd, logPath string) (*serverProcess, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &serverProcess{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *serverProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop ends the process group the helper started: SIGTERM, then SIGKILL
// after a grace period. It is safe to call more than once.
func (p *serverProcess) Stop() {
	p.stopOnce.Do(func() {
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
	})
}

// kill ends the process group at once (SIGKILL), as a crash would, and
// waits for the process to be gone. A later Stop does nothing.
func (p *serverProcess) kill() {
	p.stopOnce.Do(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	})
}

// logTail returns the end of the process's log, for error messages.
func (p *serverProcess) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}

// rssBytes returns the resident memory of the process, or 0 if unknown.
func (p *serverProcess) rssBytes() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(string(f[0]), 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// waitHTTP polls url until it answers at all (any status proves that the
// server listens), the process exits, or ctx ends.
func (p *serverProcess) waitHTTP(ctx context.Context, url string) error {
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited during startup:\n%s", p.name, p.logTail())
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("%s did not answer on %s: %w", p.name, url, ctx.Err()), err)
		case <-time.After(25 * time.Millisecond):
		}
	}
}
