package config

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

const base = "data_dir = \"x\"\nsource \"sample\" {}\n"

func TestNotifyDefaults(t *testing.T) {
	c := mustParse(t, base+`
notify "webhook" {
  url = "https://hooks.example.test/T0/B0/abc"
}
notify "webhook" {
  name         = "slack-alerts"
  url          = "http://127.0.0.1:8080/hook"
  secret       = "0123456789abcdef0123"
  format       = "slack"
  events       = ["failed", "committed", "recovered"]
  accounts     = ["acme"]
  destinations = ["acme-s3", "acme-local"]
  timeout      = "3s"
  max_attempts = 2
  queue_size   = 50
}
`)
	if len(c.Notify) != 2 {
		t.Fatalf("%d notify blocks", len(c.Notify))
	}
	a, b := c.Notify[0], c.Notify[1]
	checks := []struct {
		name      string
		got, want any
	}{
		{"default name", a.Name, "webhook-1"},
		{"default format", a.Format, "json"},
		{"default events", strings.Join(a.Events, ","), "failed,recovered"},
		{"default timeout", a.Timeout, 10 * time.Second},
		{"default attempts", a.MaxAttempts, 5},
		{"default queue", a.QueueSize, 1000},
		{"no secret", a.Secret, ""},
		{"url host only", a.URLHost(), "https://hooks.example.test"},
		{"name", b.Name, "slack-alerts"},
		{"format", b.Format, "slack"},
		{"events", len(b.Events), 3},
		{"timeout", b.Timeout, 3 * time.Second},
		{"attempts", b.MaxAttempts, 2},
		{"queue", b.QueueSize, 50},
		{"selects its destination", b.Selects(NotifyCommitted, "acme", "acme-s3"), true},
		{"not another account", b.Selects(NotifyCommitted, "globex", "acme-s3"), false},
		{"not another destination", b.Selects(NotifyCommitted, "acme", "acme-gcs"), false},
		{"not an unselected event", a.Selects(NotifyCommitted, "acme", "acme-s3"), false},
		{"any destination when unfiltered", a.Selects(NotifyFailed, "x", "y"), true},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s: got %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

// TestNotifyDiagnostics: each mistake is a diagnostic at its line, and
// none quotes the URL or the secret.
func TestNotifyDiagnostics(t *testing.T) {
	const token = "T000/B000/supersecrettoken"
	tests := []struct {
		name string
		body string
		want string
		line int
	}{
		{"missing url", "  format = \"json\"\n", "Missing url", 3},
		{"not http", "  url = \"ftp://h/" + token + "\"\n", "Invalid url", 4},
		{"relative", "  url = \"/" + token + "\"\n", "Invalid url", 4},
		{"credentials in url", "  url = \"https://u:supersecrettoken@h/x\"\n", "Credentials in url", 4},
		{"short secret", "  url = \"https://h/x\"\n  secret = \"short-" + token[:4] + "\"\n", "Secret too short", 5},
		{"unknown event", "  url = \"https://h/x\"\n  events = [\"failed\", \"exploded\"]\n", `"exploded": events are failed, committed, recovered`, 5},
		{"no events", "  url = \"https://h/x\"\n  events = []\n", "No events", 5},
		{"bad format", "  url = \"https://h/x\"\n  format = \"teams\"\n", "format must be one of json, slack", 5},
		{"typo", "  url = \"https://h/x\"\n  secrett = \"x\"\n", `An argument named "secrett" is not expected here`, 5},
		{"timeout too short", "  url = \"https://h/x\"\n  timeout = \"10ms\"\n", "timeout must be at least 1s", 5},
		{"bad destination name", "  url = \"https://h/x\"\n  destinations = [\"a b\"]\n", `destinations: "a b"`, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := base + "notify \"webhook\" {\n" + tt.body + "}\n"
			_, diags := Parse([]byte(src), "test.hcl", "/tmp")
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			for _, d := range diags {
				text := d.Summary + "; " + d.Detail
				if strings.Contains(text, token) || strings.Contains(text, "supersecret") {
					t.Fatalf("diagnostic quotes a secret: %s", text)
				}
			}
			for _, d := range diags {
				if !strings.Contains(d.Summary+"; "+d.Detail, tt.want) {
					continue
				}
				if d.Subject == nil || d.Subject.Start.Line != tt.line {
					t.Fatalf("diagnostic at %v, want line %d", d.Subject, tt.line)
				}
				return
			}
			t.Fatalf("no diagnostic mentions %q: %v", tt.want, diags)
		})
	}
}

func TestNotifyBlocks(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unknown kind", "notify \"email\" {\n  url = \"https://h/x\"\n}\n", `There is no notifier "email"`},
		{"duplicate names", "notify \"webhook\" {\n  name = \"a\"\n  url = \"https://h/x\"\n}\nnotify \"webhook\" {\n  name = \"a\"\n  url = \"https://h/y\"\n}\n", "Duplicate notifier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Parse([]byte(base+tt.src), "test.hcl", "/tmp")
			if !slices.ContainsFunc(diags, func(d *hcl.Diagnostic) bool { return strings.Contains(d.Summary+"; "+d.Detail, tt.want) }) {
				t.Fatalf("no diagnostic mentions %q: %v", tt.want, diags)
			}
		})
	}
}
