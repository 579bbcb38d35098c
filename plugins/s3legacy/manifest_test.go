package s3legacy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// withFileLists adds the columns and file lists the daemon sends at
// Commit to a dump's manifest.
func withFileLists(dm dump) sdk.Manifest {
	m := dm.manifest()
	for i := range m.Tables {
		tm := &m.Tables[i]
		tm.Columns = []sdk.Column{{Name: "id", Type: "BYTE_ARRAY (STRING)"}}
		for _, f := range dm.tables[tm.Name] {
			tm.FileList = append(tm.FileList, sdk.ManifestFile{Index: f.Index, Size: f.Size, Rows: f.Rows, SHA256: f.SHA256})
		}
	}
	return m
}

// TestManifestWithMoto: with manifest = true and a role that may only put
// objects (IAM enforced), each dump also gets _manifest.json, stored once,
// after every data file and just before the receipt; every entry matches
// the object stored, and the receipt is what it is without a manifest.
func TestManifestWithMoto(t *testing.T) {
	m := testsupport.SharedMoto(t)
	c := m.NewCustomer(t, testsupport.CustomerOptions{})
	proxy := testsupport.StartFaultProxy(t, m.Endpoint, testsupport.Faults{})
	d := motoDestination(t, m, c, map[string]any{"endpoint": proxy.URL, "folder": "exports", "manifest": true})
	ctx := testContext(t)
	dm := encodeDump(t, exportTime(), 0.02, 64<<10)
	dm.info.ExporterVersion = "1.2.3"
	exp, err := d.Begin(ctx, dm.info)
	if err != nil {
		t.Fatal(err)
	}
	if err := putAll(ctx, exp, dm); err != nil {
		t.Fatal(err)
	}
	rc, err := exp.Commit(ctx, withFileLists(dm))
	if err != nil {
		t.Fatal(err)
	}
	if want := d.layout.NewReceipt(dm.info.Time, dm.manifest()).Marshal(); !bytes.Equal(rc.Body, want) {
		t.Fatalf("the receipt changed with a manifest:\n%s\nwant\n%s", rc.Body, want)
	}

	key := d.layout.ManifestKey(dm.info.Time)
	body, err := m.Object(ctx, c.Bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	man, err := legacylayout.ParseManifest(body)
	if err != nil || man.ExporterVersion != "1.2.3" || man.Account != "acme" || len(man.Tables) != len(dm.info.Tables) {
		t.Fatalf("manifest %+v: %v", man, err)
	}
	n := 0
	for name, mt := range man.Tables {
		if len(mt.Files) != len(dm.tables[name]) {
			t.Fatalf("%s: %d files listed, %d stored", name, len(mt.Files), len(dm.tables[name]))
		}
		for _, f := range mt.Files {
			data, err := m.Object(ctx, c.Bucket, f.Key)
			sum := sha256.Sum256(data)
			if err != nil || int64(len(data)) != f.Size || hex.EncodeToString(sum[:]) != f.SHA256 {
				t.Fatalf("%+v does not describe the object stored (%v)", f, err)
			}
			n++
		}
	}

	// The customer guide's verify_dump.py, reading the bucket with boto3.
	if script := verifyScript(t); script != "" {
		cmd := exec.Command("python3", script, "s3://"+c.Bucket, "exports")
		env := []string{"AWS_ENDPOINT_URL=" + m.Endpoint, "AWS_DEFAULT_REGION=" + m.Region}
		for _, kv := range append(os.Environ(), m.Admin.Env()...) {
			if k, v, _ := strings.Cut(kv, "="); v != "" && k != "AWS_ENDPOINT_URL" && k != "AWS_DEFAULT_REGION" {
				env = append(env, kv) // boto3 takes an empty AWS_PROFILE for a profile's name
			}
		}
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "ok: dump "+man.Timestamp) {
			t.Fatalf("verify_dump.py: %v\n%s", err, out)
		}
	}

	puts := successfulPuts(t, proxy)
	manifestPath, receiptPath := "/"+c.Bucket+"/"+key, "/"+c.Bucket+"/exports/receipt.json"
	if len(puts) != n+2 || puts[len(puts)-2] != manifestPath || puts[len(puts)-1] != receiptPath {
		t.Fatalf("%d files, then the stores in order:\n%s", n, strings.Join(puts, "\n"))
	}
}

// verifyScript writes the README's verify_dump.py into a file; "" when
// python3 with boto3 is missing (a failure in CI).
func verifyScript(t *testing.T) string {
	t.Helper()
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3 with boto3 is needed to test the README's verify_dump.py: %v", err)
		}
		t.Log("no python3 with boto3: the README's verify_dump.py is not run")
		return ""
	}
	readme, err := os.ReadFile("../../README.md")
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
