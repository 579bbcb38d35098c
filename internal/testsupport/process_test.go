package testsupport

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWaitHTTPWantsItsOwnServer: an answer on the port from a server that
// is not the started process (it took the port first) is refused; the
// process's own server is accepted.
func TestWaitHTTPWantsItsOwnServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	idle, err := startServerProcess("sleep", exec.Command("sleep", "30"), filepath.Join(t.TempDir(), "sleep.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Stop()
	err = idle.waitHTTP(ctx, other.URL+"/")
	if err == nil || !strings.Contains(err.Error(), "held by another process") {
		t.Fatalf("waitHTTP on another server's port = %v, want it refused", err)
	}

	port, err := loopbackPort()
	if err != nil {
		t.Fatal(err)
	}
	own, err := startServerProcess("http.server", exec.Command("python3", "-m", "http.server", "--bind", "127.0.0.1", strconv.Itoa(port)),
		filepath.Join(t.TempDir(), "http.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	if err := own.waitHTTP(ctx, "http://127.0.0.1:"+strconv.Itoa(port)+"/"); err != nil {
		t.Fatalf("waitHTTP on the process's own server: %v", err)
	}
}
