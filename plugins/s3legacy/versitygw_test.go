package s3legacy

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// versityDestination configures an in-process destination writing into a
// fresh versitygw bucket as a user granted only s3:PutObject and
// s3:PutObjectAcl. versitygw has no STS, so the user's static credentials
// stand in for the role session.
func versityDestination(t *testing.T, v *testsupport.VersityGW, endpoint string, extra map[string]any) (*destination, string) {
	t.Helper()
	bucket := v.CreateBucket(t, "acme-dump")
	user := v.CreateUser(t)
	v.GrantPut(t, bucket, user)
	cfg := baseConfig(map[string]any{"bucket": bucket, "endpoint": endpoint, "path_style": true, "region": v.Region})
	for k, val := range extra {
		cfg[k] = val
	}
	return configure(t, testPlugin(t, user.Provider()), cfg), bucket
}

// TestStrictWire exports a real dump into versitygw, which verifies the
// signed payload hash and the checksum of every upload, through a proxy
// that drops connections mid-body and fails requests: every retry must
// resend exactly the bytes that were signed.
func TestStrictWire(t *testing.T) {
	v := testsupport.StartVersityGW(t)
	proxy := testsupport.StartFaultProxy(t, v.Endpoint, testsupport.Faults{Drop: 0.15, InternalError: 0.1, SlowDown: 0.05, Seed: 7})
	d, bucket := versityDestination(t, v, proxy.URL, map[string]any{
		"folder": "exports", "max_attempts": 12,
		// Accepted and dropped by versitygw; sent to prove the header set passes a strict server.
		"kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	})
	ctx := testContext(t)
	dm := encodeDump(t, exportTime(), 1, 64<<10)
	rc := exportDump(ctx, t, d, dm)
	t.Logf("%d files, %d requests, %d faults injected", len(dm.files()), len(proxy.Records()), proxy.Injected())
	if proxy.Injected() == 0 {
		t.Fatal("no fault injected")
	}

	keys, err := v.Keys(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"exports/receipt.json"}
	for _, f := range dm.files() {
		key := d.layout.FileKey(dm.info.Time, f.Table, f.Index)
		want = append(want, key)
		got, err := v.Object(ctx, bucket, key)
		if err != nil || !bytes.Equal(got, f.data) {
			t.Fatalf("%s: stored bytes differ from the encoded ones (%v)", key, err)
		}
	}
	slices.Sort(want)
	if strings.Join(keys, "\n") != strings.Join(want, "\n") {
		t.Fatalf("keys:\n%s\nwant:\n%s", strings.Join(keys, "\n"), strings.Join(want, "\n"))
	}
	if got, err := v.Object(ctx, bucket, "exports/receipt.json"); err != nil || !bytes.Equal(got, rc.Body) {
		t.Fatalf("receipt: %v", err)
	}
}

// TestStrictWireRefusesWrongBytes checks that the digest really travels:
// bytes that do not match it are refused by the server, retried as a
// transfer fault, and never stored.
func TestStrictWireRefusesWrongBytes(t *testing.T) {
	v := testsupport.StartVersityGW(t)
	d, bucket := versityDestination(t, v, v.Endpoint, map[string]any{"max_attempts": 2})
	ctx := testContext(t)
	body := []byte("the bytes the daemon encoded")
	claimed := sha256.Sum256([]byte("other bytes"))
	err := d.put(ctx, d.sessions.provider("exportd-acme"), object{key: "x/file.parquet.gz", body: bytes.NewReader(body), size: int64(len(body)), sha256: claimed[:], contentType: legacylayout.ParquetContentType})
	if sdk.KindOf(err) != sdk.KindRetryable || !strings.Contains(err.Error(), "Mismatch") && !strings.Contains(err.Error(), "BadDigest") {
		t.Fatalf("put with a wrong digest: %v, want a retryable digest mismatch", err)
	}
	t.Logf("refused: %v", err)
	if _, err := v.Object(ctx, bucket, "x/file.parquet.gz"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("object stored despite a wrong digest: %v", err)
	}
}
