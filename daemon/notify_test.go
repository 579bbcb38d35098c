package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/notify"
	"github.com/exportd/exportd/internal/testsupport"
)

// TestNotifications runs the real daemon with a webhook notifier: an
// export that fails for good is posted as "failed", the next dump that
// commits as "recovered", both signed and free of secrets. A second
// notifier whose receiver is down holds up neither the exports nor the
// first notifier.
func TestNotifications(t *testing.T) {
	t.Parallel()
	const secret = "notify-test-secret-0123456789"
	type post struct {
		header http.Header
		body   []byte
	}
	posts := make(chan post, 16)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		posts <- post{r.Header.Clone(), b}
	}))
	defer rc.Close()
	next := func() notify.Payload {
		t.Helper()
		select {
		case p := <-posts:
			if err := notify.Verify([]byte(secret), p.body, p.header.Get(notify.HeaderTimestamp), p.header.Get(notify.HeaderSignature), time.Now(), 5*time.Minute); err != nil {
				t.Fatalf("signature: %v", err)
			}
			if strings.Contains(string(p.body), secret) {
				t.Fatalf("the payload carries the secret: %s", p.body)
			}
			var pl notify.Payload
			if err := json.Unmarshal(p.body, &pl); err != nil {
				t.Fatal(err)
			}
			return pl
		case <-time.After(2 * time.Minute):
			t.Fatal("no notification")
			return notify.Payload{}
		}
	}

	ns := testsupport.StartNATS(t)
	_, js := ns.Connect(t)
	// A file where the destination's parent directory should be: every
	// write fails until it is removed.
	root := t.TempDir()
	blocker := filepath.Join(root, "blocked")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, fmt.Sprintf(`
data_dir   = %q
plugin_dir = %q
nats { url = %q }
http { listen = "" }
jobs {
  ack_wait    = "10s"
  max_deliver = 1
}
source "sample" { scale = 1 }
destination "localfs" "acme-local" {
  account = "acme"
  path    = %q
}
notify "webhook" {
  name   = "ops"
  url    = %q
  secret = env("NOTIFY_TEST_SECRET")
  events = ["failed", "recovered"]
}
notify "webhook" {
  name   = "down"
  url    = %q
  events = ["failed", "recovered", "committed"]
}
`, t.TempDir(), testsupport.PluginDir(t, "localfs"), ns.URL, filepath.Join(blocker, "out"), rc.URL+"/hooks/exportd", deadURL(t)))

	// Configure creates the destination's directory: let it, then block it.
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg, "NOTIFY_TEST_SECRET="+secret)
	d.waitLog(t, "exportd running", 60*time.Second)
	if err := os.RemoveAll(blocker); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	publish(t, js, event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC().Add(-time.Minute)})
	f := next()
	if f.Event != "failed" || f.Destination != "acme-local" || f.RunID != "run-1" || f.ErrorKind != "retryable" || f.Error == "" {
		t.Fatalf("first notification %+v", f)
	}

	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	publish(t, js, event.ModellingCompleted{AccountID: "acme", RunID: "run-2", CompletedAt: time.Now().UTC()})
	r := next()
	if r.Event != "recovered" || r.RunID != "run-2" || r.Failures != 1 || r.Location == "" || r.Files == 0 {
		t.Fatalf("second notification %+v", r)
	}
	if strings.Contains(d.out.String(), secret) || strings.Contains(d.out.String(), "/hooks/exportd") {
		t.Fatalf("the log shows the secret or the webhook's path:\n%s", d.out)
	}
}

// deadURL is a URL on a loopback port that nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/hook"
}
