package testsupport

import (
	"bufio"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exportd/exportd/sdk/host"
)

// DebugPlugin starts a plugin binary in debug mode (-debug), as a
// developer would under a debugger, and returns the value it prints for
// host.ReattachEnv. The plugin is interrupted at cleanup, which fails the
// test unless it then ends cleanly.
func DebugPlugin(t testing.TB, bin string) string {
	t.Helper()
	cmd := exec.Command(bin, "-debug")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("plugin %s in debug mode did not end cleanly on an interrupt: %v", bin, err)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("plugin %s in debug mode did not end on an interrupt", bin)
		}
	})
	var value string
	lines := bufio.NewScanner(out)
	for value == "" && lines.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(lines.Text()), host.ReattachEnv+"='"); ok {
			value = strings.TrimSuffix(v, "'")
		}
	}
	go func() {
		for lines.Scan() {
		}
		exited <- cmd.Wait()
	}()
	if value == "" {
		t.Fatalf("plugin %s in debug mode printed no %s", bin, host.ReattachEnv)
	}
	return value
}
