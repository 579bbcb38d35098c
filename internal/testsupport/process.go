package testsupport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
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

// waitHTTP polls url until it answers at all (any status proves that a
// server listens), the process exits, or ctx ends. An answer counts only
// when the process (or one of its group) holds the listening socket: when
// another test's server took the port first, this one fails to bind, yet
// the other answers, and seeding it would mix two tests' state.
func (p *serverProcess) waitHTTP(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return fmt.Errorf("%s: no port in %s", p.name, rawURL)
	}
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if !p.listensOn(port) {
				return fmt.Errorf("%s: port %d is held by another process", p.name, port)
			}
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited during startup:\n%s", p.name, p.logTail())
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("%s did not answer on %s: %w", p.name, rawURL, ctx.Err()), err)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// listensOn reports whether a process of p's group holds a socket that
// listens on TCP port (read from Linux's /proc).
func (p *serverProcess) listensOn(port int) bool {
	inodes := listeningInodes(port)
	if len(inodes) == 0 {
		return false
	}
	pids, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range pids {
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses: state,
		// ppid, pgrp.
		_, rest, ok := bytes.Cut(stat, []byte(") "))
		f := bytes.Fields(rest)
		if !ok || len(f) < 3 || string(f[2]) != strconv.Itoa(p.cmd.Process.Pid) {
			continue
		}
		fds, _ := filepath.Glob(filepath.Join(dir, "fd", "*"))
		for _, fd := range fds {
			if link, err := os.Readlink(fd); err == nil && inodes[link] {
				return true
			}
		}
	}
	return false
}

// listeningInodes returns the sockets that listen on TCP port, as the
// fd links name them ("socket:[inode]").
func listeningInodes(port int) map[string]bool {
	const listen = "0A"
	want := fmt.Sprintf(":%04X", port)
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range bytes.Split(b, []byte("\n"))[1:] {
			f := bytes.Fields(line)
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if len(f) < 10 || !bytes.HasSuffix(f[1], []byte(want)) || string(f[3]) != listen {
				continue
			}
			inodes["socket:["+string(f[9])+"]"] = true
		}
	}
	return inodes
}
