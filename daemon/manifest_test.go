package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/job"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// verifyScript writes the customer guide's verify_dump.py, exactly as the
// README shows it, into a file and returns its path. Without python3 the
// test is skipped, except in CI.
func verifyScript(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 is needed to test the README's verify_dump.py")
		}
		t.Skip("no python3 to run the README's verify_dump.py")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- verify_dump.py: [^>]*-->\n```python\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("the README has no verify_dump.py")
	}
	p := filepath.Join(t.TempDir(), "verify_dump.py")
	if err := os.WriteFile(p, m[1], 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// verify runs verify_dump.py on a local copy of a bucket.
func verify(t *testing.T, script, root string) (string, bool) {
	t.Helper()
	out, err := exec.Command("python3", script, root).CombinedOutput()
	return string(out), err == nil
}

// readManifest reads the manifest of the dump the receipt under root names.
func readManifest(t *testing.T, root string) (legacylayout.Manifest, []byte) {
	t.Helper()
	rcBody, err := os.ReadFile(filepath.Join(root, "receipt.json"))
	if err != nil {
		t.Fatal(err)
	}
	_, at, err := legacylayout.ParseReceipt(rcBody)
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(legacylayout.Layout{}.ManifestKey(at))))
	if err != nil {
		t.Fatal(err)
	}
	m, err := legacylayout.ParseManifest(body)
	if err != nil {
		t.Fatal(err)
	}
	return m, body
}

// TestManifestVerifies runs the real daemon with a localfs destination
// whose manifest is on: the dump's manifest names the daemon's version,
// the run, each table's parquet columns as the files hold them, and every
// file; the README's verify_dump.py accepts the dump, refuses it once a
// byte of a file changed, and follows the tables a re-export of other
// tables carried over to the earlier dump's manifest.
func TestManifestVerifies(t *testing.T) {
	t.Parallel()
	script := verifyScript(t)
	r := newFleetRig(t, sampleRows, []rigDest{{"acme-m", "acme", "manifest = true"}})
	d := startDaemon(t, r.cfg)
	d.waitLog(t, "exportd running", 60*time.Second)
	_, js := r.nats.Connect(t)
	publish(t, js, event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC()})
	if o := r.final("acme-m", 2*time.Minute); o.Status != job.StatusCommitted {
		t.Fatalf("export: %+v", o)
	}
	root := filepath.Join(r.out, "acme-m")
	first, _ := readManifest(t, root)
	if first.ExporterVersion != "dev" || first.Account != "acme" || first.RunID != "run-1" || len(first.Tables) != 6 {
		t.Fatalf("manifest: %+v", first)
	}
	files := 0
	for name, tb := range first.Tables {
		files += len(tb.Files)
		checkColumns(t, name, tb, filepath.Join(root, filepath.FromSlash(tb.Files[0].Key)))
	}
	if out, ok := verify(t, script, root); !ok || !strings.HasPrefix(out, "ok: dump "+first.Timestamp+" of run run-1: 6 tables, ") {
		t.Fatalf("verify_dump.py on a sound dump:\n%s", out)
	}

	// One byte changed in one file: refused, naming the file.
	victim := filepath.Join(root, filepath.FromSlash(first.Tables["events"].Files[0].Key))
	data, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 0x01
	if err := os.WriteFile(victim, bad, 0o640); err != nil {
		t.Fatal(err)
	}
	if out, ok := verify(t, script, root); ok || !strings.Contains(out, first.Tables["events"].Files[0].Key) {
		t.Fatalf("verify_dump.py on a damaged dump:\n%s", out)
	}
	if err := os.WriteFile(victim, data, 0o640); err != nil {
		t.Fatal(err)
	}

	// A re-export of events: the other tables point at the first manifest.
	out, err := exec.Command(exportdBinary(t), "reexport", "-nats", r.nats.URL, "-account", "acme", "-table", "events", "-wait", "-timeout", "3m").CombinedOutput()
	if err != nil {
		t.Fatalf("reexport: %v\n%s", err, out)
	}
	second, _ := readManifest(t, root)
	firstKey := legacylayout.Layout{}.ManifestKey(mustParse(t, first.Timestamp))
	for name, tb := range second.Tables {
		if carried := name != "events"; carried != (tb.CarriedFrom == firstKey) || carried == (len(tb.Files) > 0) {
			t.Errorf("%s in the re-export's manifest: %+v", name, tb)
		}
	}
	if out, ok := verify(t, script, root); !ok || !strings.Contains(out, "6 tables, "+strconv.Itoa(files)+" files") {
		t.Fatalf("verify_dump.py on the re-export:\n%s", out)
	}
}

// checkColumns compares a manifest's columns with a file's parquet schema
// as arrow-go reads it: the same names in the same order, each with the
// physical type the manifest names first.
func checkColumns(t *testing.T, table string, tb legacylayout.ManifestTable, path string) {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := r.MetaData().Schema
	if s.NumColumns() != len(tb.Columns) {
		t.Fatalf("%s: %d columns in the file, %d in the manifest", table, s.NumColumns(), len(tb.Columns))
	}
	for i := range s.NumColumns() {
		col, mc := s.Column(i), tb.Columns[i]
		name, _, _ := strings.Cut(col.Path(), ".")
		want := col.PhysicalType().String()
		if col.MaxRepetitionLevel() > 0 {
			want = "LIST<" + want
		}
		if name != mc.Name || !strings.HasPrefix(mc.Type, want) {
			t.Errorf("%s column %d: the file has %s %s, the manifest %+v", table, i, col.Path(), col.PhysicalType(), mc)
		}
	}
}

func mustParse(t *testing.T, ts string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// TestManifestRecommit: a daemon killed after its Commit and before it
// recorded it leaves the intent; the heir's recommit writes the same
// manifest again from the file lists the intent kept (no file is Put),
// even when the first one is gone.
func TestManifestRecommit(t *testing.T) {
	t.Parallel()
	r := newFleetRig(t, sampleRows, []rigDest{{"acme-m", "acme", "manifest = true"}})
	victim := startDaemon(t, r.cfg, "EXPORTD_TEST_CRASH="+job.CrashAfterCommit)
	victim.waitLog(t, "exportd running", 60*time.Second)
	_, js := r.nats.Connect(t)
	publish(t, js, event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC()})
	victim.waitExit(t, time.Minute)
	if ws, ok := victim.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("exportd ended with %v, want SIGKILL", victim.cmd.ProcessState)
	}
	root := filepath.Join(r.out, "acme-m")
	receipt, err := os.ReadFile(filepath.Join(root, "receipt.json"))
	if err != nil {
		t.Fatal(err)
	}
	man, manifest := readManifest(t, root)
	if err := os.Remove(filepath.Join(root, filepath.FromSlash(legacylayout.Layout{}.ManifestKey(mustParse(t, man.Timestamp))))); err != nil {
		t.Fatal(err)
	}

	heir := startDaemon(t, r.cfg)
	if o := r.final("acme-m", 2*time.Minute); o.Status != job.StatusCommitted {
		t.Fatalf("recommit: %+v", o)
	}
	if !strings.Contains(heir.out.String(), "recommit=true") {
		t.Fatalf("the heir did not recommit; output:\n%s", heir.out)
	}
	if again, _ := os.ReadFile(filepath.Join(root, "receipt.json")); !bytes.Equal(again, receipt) {
		t.Fatalf("the receipt changed:\n%s\nwas:\n%s", again, receipt)
	}
	if _, again := readManifest(t, root); !bytes.Equal(again, manifest) {
		t.Fatalf("the recommit wrote the manifest\n%s\nthe first commit\n%s", again, manifest)
	}
}
