package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/job"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/nats-io/nats.go"
)

// runExportd runs an exportd command to completion.
func runExportd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(exportdBinary(t), args...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// requireEmptyDir fails unless dir holds no file at all.
func requireEmptyDir(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			t.Errorf("something was written: %s", p)
		}
		return nil
	})
}

// TestBadConfigurations: each mistake is a clear error at startup, from
// both validate and run, and nothing is written to any destination.
func TestBadConfigurations(t *testing.T) {
	pluginDir := testsupport.PluginDir(t, "localfs", "s3legacy")
	// A plugin reached through a directory every user may write.
	openDir := t.TempDir()
	if err := os.Chmod(openDir, 0o777); err != nil {
		t.Fatal(err)
	}
	exposed := filepath.Join(openDir, "exportd-plugin-localfs")
	if err := os.Symlink(filepath.Join(pluginDir, "exportd-plugin-localfs"), exposed); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		body string // destinations and plugins, after the common part
		want []string
	}{
		{
			name: "typo in a destination attribute",
			body: "destination \"localfs\" \"d\" {\n  account = \"acme\"\n  path    = %q\n  foldr   = \"x\"\n}\n",
			want: []string{"exportd.hcl:8:3: error: Unsupported argument", `An argument named "foldr" is not expected here. Did you mean "folder"?`},
		},
		{
			name: "value of the wrong type",
			body: "destination \"localfs\" \"d\" {\n  account = \"acme\"\n  path    = %q\n  fsync   = \"sometimes\"\n}\n",
			want: []string{"exportd.hcl:8:13: error: Incorrect attribute value type", "a bool is required"},
		},
		{
			name: "plugin refusing a value",
			body: "destination \"localfs\" \"d\" {\n  account = \"acme\"\n  path    = %q\n  folder  = \"a/../b\"\n}\n",
			want: []string{"exportd.hcl:8:13: error: Invalid destination configuration", `folder "a/../b" has a ".." path segment`},
		},
		{
			name: "value outside the plugin's declared values",
			body: "destination \"s3legacy\" \"d\" {\n  account  = \"acme\"\n  bucket   = \"acme-dump\"\n  role_arn = \"arn:aws:iam::123456789012:role/x\"\n  acl      = \"public-read\"\n}\n# %s\n",
			want: []string{"exportd.hcl:9:14: error: Invalid value for acl", `"public-read" is not one of "bucket-owner-full-control", "bucket-owner-read", "private", "none"`},
		},
		{
			name: "number outside the plugin's declared range",
			body: "destination \"s3legacy\" \"d\" {\n  account  = \"acme\"\n  bucket   = \"acme-dump\"\n  role_arn = \"arn:aws:iam::123456789012:role/x\"\n  max_attempts = 0\n}\n# %s\n",
			want: []string{"exportd.hcl:9:18: error: Invalid value for max_attempts", "0 is not a whole number from 1 to 20"},
		},
		{
			name: "pinned checksum mismatch",
			body: "plugin \"localfs\" {\n  sha256 = \"" + strings.Repeat("ab", 32) + "\"\n}\ndestination \"localfs\" \"d\" {\n  account = \"acme\"\n  path    = %q\n}\n",
			want: []string{"Plugin checksum mismatch", "does not match its pinned sha256", strings.Repeat("ab", 32)},
		},
		{
			name: "plugin others may replace",
			body: "plugin \"localfs\" {\n  path = \"" + exposed + "\"\n}\ndestination \"localfs\" \"d\" {\n  account = \"acme\"\n  path    = %q\n}\n",
			want: []string{"exportd.hcl:5:1: error: Unsafe plugin permissions", openDir + " is writable by group or others"},
		},
		{
			name: "plugin given the whole environment",
			body: "plugin \"localfs\" {\n  env = [\"*\"]\n}\ndestination \"localfs\" \"d\" {\n  account = \"acme\"\n  path    = %q\n}\n",
			want: []string{"exportd.hcl:6:9: error: Invalid environment variable pattern", "would pass the daemon's whole environment on"},
		},
		{
			name: "unknown plugin",
			body: "destination \"ftp\" \"d\" {\n  account = \"acme\"\n  path    = %q\n}\n",
			want: []string{"exportd.hcl:5:1: error: Unknown plugin", "exportd-plugin-ftp"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			cfg := writeConfig(t, fmt.Sprintf("data_dir = %q\nplugin_dir = %q\nsource \"sample\" {}\nhttp { listen = \"\" }\n", t.TempDir(), pluginDir)+
				fmt.Sprintf(tt.body, out))
			for _, cmd := range []string{"validate", "run"} {
				text, code := runExportd(t, cmd, "-config", cfg)
				if code != 1 {
					t.Fatalf("exportd %s exited %d, want 1:\n%s", cmd, code, text)
				}
				for _, w := range tt.want {
					if !strings.Contains(text, w) {
						t.Fatalf("exportd %s output lacks %q:\n%s", cmd, w, text)
					}
				}
				if strings.Contains(text, "panic") {
					t.Fatalf("exportd %s panicked:\n%s", cmd, text)
				}
			}
			requireEmptyDir(t, out)
		})
	}
}

// TestMalformedEvents: malformed events are given up with their reason
// logged and published as advisories; the daemon carries on and exports
// the valid event that follows; nothing is written for the bad ones.
func TestMalformedEvents(t *testing.T) {
	ns := testsupport.StartNATS(t)
	nc, js := ns.Connect(t)
	out := t.TempDir()
	cfg := writeConfig(t, e2eConfig(t.TempDir(), ns.URL, testsupport.PluginDir(t, "localfs"), out))
	advisories := make(chan *nats.Msg, 64)
	if _, err := nc.ChanSubscribe(job.AdvisorySubject, advisories); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg)
	d.waitLog(t, "exportd running", 60*time.Second)

	// The shared hostile corpus, and a queued re-export that is not one.
	bad := testsupport.HostileEvents(t)
	bad = append(bad, testsupport.HostileEvent{Name: "queued re-export", Subject: "exportd.requests.acme", Body: `{"job_id": 5}`, Reason: "queued re-export"})
	// Wait until the daemon has created the stream.
	publish(t, js, event.ModellingCompleted{AccountID: "nobody", RunID: "warmup", CompletedAt: time.Now()})
	for i, b := range bad {
		if _, err := js.Publish(t.Context(), b.Subject, []byte(b.Body), jetstreamMsgID(fmt.Sprintf("bad-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	reasons := map[string]bool{}
	for _, b := range bad {
		reasons[b.Reason] = true
	}
	seen, advised := map[string]bool{}, 0
	deadline := time.After(60 * time.Second)
	for len(seen) < len(reasons) || advised < len(bad) {
		select {
		case m := <-advisories:
			var a job.Advisory
			if err := json.Unmarshal(m.Data, &a); err != nil {
				t.Fatal(err)
			}
			advised++
			for _, b := range bad {
				if strings.Contains(a.Reason, b.Reason) {
					seen[b.Reason] = true
				}
			}
		case <-deadline:
			t.Fatalf("%d advisories, saying %v, for %d bad events; output:\n%s", advised, seen, len(bad), d.out)
		}
	}
	requireEmptyDir(t, out)
	if strings.Contains(d.out.String(), "panic") {
		t.Fatal("the daemon panicked")
	}

	// The daemon is still healthy: a valid event is exported.
	publish(t, js, event.ModellingCompleted{AccountID: "acme", RunID: "good", CompletedAt: time.Now().UTC()})
	waitFile(t, filepath.Join(out, "exports", "acme", "receipt.json"), 2*time.Minute)
}
