package s3legacy

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/exportd/exportd/sdk"
)

// fakeS3 answers PutObject as a handler decides, counting requests.
type fakeS3 struct {
	*httptest.Server
	requests atomic.Int64
}

func newFakeS3(t *testing.T, h func(w http.ResponseWriter, r *http.Request, body []byte)) *fakeS3 {
	f := &fakeS3{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		h(w, r, body)
	}))
	t.Cleanup(f.Close)
	return f
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>req-1</RequestId><HostId>host-1</HostId></Error>`, code, msg)
}

var staticCreds = credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")

// putOne begins an export of table "companies" and puts one small file.
func putOne(t *testing.T, d *destination) (*export, spoolFile, error) {
	t.Helper()
	ctx := testContext(t)
	exp, err := d.Begin(ctx, sdk.ExportInfo{ID: "e1", Account: "acme", RunID: "r1", Time: exportTime(), Tables: []string{"companies"}})
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	f := writeSpool(t, t.TempDir(), "companies", 0, []byte("PAR1 not really PAR1"))
	return exp.(*export), f, exp.Put(ctx, f.File)
}

func TestPutClassifiesS3Errors(t *testing.T) {
	tests := []struct {
		name     string
		extra    map[string]any
		status   int
		code     string
		msg      string
		header   map[string]string
		kind     sdk.ErrorKind
		attr     string
		says     []string
		attempts int64
	}{
		{name: "access denied", status: 403, code: "AccessDenied", msg: "Access Denied",
			kind: sdk.KindConfiguration, attr: "role_arn", attempts: 1,
			says: []string{testRole, "s3:PutObject and s3:PutObjectAcl on arn:aws:s3:::acme-platform-dump/* and arn:aws:s3:::acme-platform-dump"}},
		{name: "access denied with KMS", extra: map[string]any{"kms_key_arn": testKMS, "region": "eu-west-1"}, status: 403, code: "AccessDenied", msg: "Access Denied",
			kind: sdk.KindConfiguration, attr: "role_arn", attempts: 1, says: []string{"kms:GenerateDataKey and kms:Decrypt on " + testKMS}},
		{name: "KMS access denied", extra: map[string]any{"kms_key_arn": testKMS, "region": "eu-west-1"}, status: 403, code: "AccessDenied",
			msg:  "User: arn:aws:sts::1:assumed-role/x/y is not authorized to perform: kms:GenerateDataKey on resource",
			kind: sdk.KindConfiguration, attr: "kms_key_arn", attempts: 1, says: []string{"kms:GenerateDataKey and kms:Decrypt"}},
		{name: "KMS key missing", extra: map[string]any{"kms_key_arn": testKMS, "region": "eu-west-1"}, status: 400, code: "KMS.NotFoundException", msg: "Invalid keyId",
			kind: sdk.KindConfiguration, attr: "kms_key_arn", attempts: 1, says: []string{"exists, is enabled"}},
		{name: "no such bucket", status: 404, code: "NoSuchBucket", msg: "The specified bucket does not exist",
			kind: sdk.KindConfiguration, attr: "bucket", attempts: 1, says: []string{"bucket acme-platform-dump does not exist"}},
		{name: "ACLs disabled", status: 400, code: "AccessControlListNotSupported", msg: "The bucket does not allow ACLs",
			kind: sdk.KindConfiguration, attr: "acl", attempts: 1, says: []string{`acl = "bucket-owner-full-control" or "none"`}},
		{name: "configured region is wrong", extra: map[string]any{"region": "us-east-2"}, status: 301, code: "PermanentRedirect",
			msg: "The bucket you are attempting to access must be addressed using the specified endpoint.", header: map[string]string{"X-Amz-Bucket-Region": "eu-west-1"},
			kind: sdk.KindConfiguration, attr: "region", attempts: 1, says: []string{`set region = "eu-west-1"`}},
		{name: "throttled throughout", extra: map[string]any{"max_attempts": 3}, status: 503, code: "SlowDown", msg: "Please reduce your request rate.",
			kind: sdk.KindRetryable, attempts: 3, says: []string{"SlowDown"}},
		{name: "server error throughout", extra: map[string]any{"max_attempts": 4}, status: 500, code: "InternalError", msg: "We encountered an internal error.",
			kind: sdk.KindRetryable, attempts: 4},
		{name: "bad gateway", extra: map[string]any{"max_attempts": 2}, status: 502, code: "BadGateway", msg: "x",
			kind: sdk.KindRetryable, attempts: 2},
		{name: "corrupted in transit", extra: map[string]any{"max_attempts": 2}, status: 400, code: "BadDigest", msg: "checksum mismatch",
			kind: sdk.KindRetryable, attempts: 2},
		{name: "invalid argument", status: 400, code: "InvalidArgument", msg: "Something is off",
			kind: sdk.KindPermanent, attempts: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeS3(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				s3Error(w, tc.status, tc.code, tc.msg)
			})
			extra := map[string]any{"endpoint": srv.URL, "path_style": true, "region": "us-east-1"}
			for k, v := range tc.extra {
				extra[k] = v
			}
			d := configure(t, testPlugin(t, staticCreds), baseConfig(extra))
			exp, f, err := putOne(t, d)
			if sdk.KindOf(err) != tc.kind || sdk.AttributeOf(err) != tc.attr {
				t.Fatalf("got %v (kind %v, attribute %q), want kind %v attribute %q", err, sdk.KindOf(err), sdk.AttributeOf(err), tc.kind, tc.attr)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not say %q:\n%v", s, err)
				}
			}
			if got := srv.requests.Load(); got != tc.attempts {
				t.Errorf("%d requests, want %d", got, tc.attempts)
			}
			if tc.kind == sdk.KindConfiguration {
				// The export is broken: later Puts report the same error
				// without another request.
				again := exp.Put(testContext(t), f.File)
				if again == nil || again.Error() != err.Error() || srv.requests.Load() != tc.attempts {
					t.Errorf("second Put: %v after %d requests", again, srv.requests.Load())
				}
			}
		})
	}
}

func TestPutSendsTheContractHeaders(t *testing.T) {
	tests := []struct {
		name  string
		extra map[string]any
		want  map[string]string // "" means absent
	}{
		{"defaults", nil, map[string]string{
			"X-Amz-Acl": "bucket-owner-full-control", "X-Amz-Server-Side-Encryption": "", "Content-Encoding": "",
			"Content-Type": "application/vnd.apache.parquet",
		}},
		{"kms", map[string]any{"kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/k1"}, map[string]string{
			"X-Amz-Acl": "bucket-owner-full-control", "X-Amz-Server-Side-Encryption": "aws:kms",
			"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "arn:aws:kms:us-east-1:123456789012:key/k1",
		}},
		{"no acl", map[string]any{"acl": "none"}, map[string]string{"X-Amz-Acl": ""}},
		{"bucket-owner-read", map[string]any{"acl": "bucket-owner-read"}, map[string]string{"X-Amz-Acl": "bucket-owner-read"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []*http.Request
			var bodies [][]byte
			srv := newFakeS3(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
				mu.Lock()
				got, bodies = append(got, r), append(bodies, body)
				mu.Unlock()
				w.WriteHeader(http.StatusOK)
			})
			extra := map[string]any{"endpoint": srv.URL, "path_style": true, "region": "us-east-1", "folder": "dumps"}
			for k, v := range tc.extra {
				extra[k] = v
			}
			d := configure(t, testPlugin(t, staticCreds), baseConfig(extra))
			exp, f, err := putOne(t, d)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := exp.Commit(testContext(t), sdk.Manifest{Tables: []sdk.TableManifest{{Name: "companies", Files: 1}}}); err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 {
				t.Fatalf("%d requests, want a file and a receipt", len(got))
			}
			for i, r := range got {
				sum := sha256.Sum256(bodies[i])
				if i == 0 && string(bodies[0]) != string(f.data) {
					t.Fatal("file body differs")
				}
				want := map[string]string{
					"X-Amz-Checksum-Sha256": base64.StdEncoding.EncodeToString(sum[:]),
					"X-Amz-Content-Sha256":  hex.EncodeToString(sum[:]),
				}
				for k, v := range tc.want {
					if i == 1 && k == "Content-Type" {
						v = "application/json"
					}
					want[k] = v
				}
				for k, v := range want {
					if r.Header.Get(k) != v {
						t.Errorf("request %d %s: header %s = %q, want %q", i, r.URL.Path, k, r.Header.Get(k), v)
					}
				}
				if r.Method != http.MethodPut || r.URL.RawQuery != "x-id=PutObject" {
					t.Errorf("request %d: %s %s?%s, want a single PutObject", i, r.Method, r.URL.Path, r.URL.RawQuery)
				}
			}
			if !strings.HasPrefix(got[0].URL.Path, "/acme-platform-dump/dumps/") || got[1].URL.Path != "/acme-platform-dump/dumps/receipt.json" {
				t.Errorf("paths %s, %s", got[0].URL.Path, got[1].URL.Path)
			}
		})
	}
}

// TestRegionIsLearnt checks that with no region configured the plugin
// follows S3's answer to the bucket's region once, and stays there.
func TestRegionIsLearnt(t *testing.T) {
	srv := newFakeS3(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if !strings.Contains(r.Header.Get("Authorization"), "/eu-west-1/s3/aws4_request") {
			s3Error(w, 400, "AuthorizationHeaderMalformed", "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'")
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	d := configure(t, testPlugin(t, staticCreds), baseConfig(map[string]any{"endpoint": srv.URL, "path_style": true}))
	exp, f, err := putOne(t, d)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if d.region() != "eu-west-1" || srv.requests.Load() != 2 {
		t.Fatalf("region %s after %d requests", d.region(), srv.requests.Load())
	}
	f.Index = 0
	if err := exp.Put(testContext(t), f.File); err != nil || srv.requests.Load() != 3 {
		t.Fatalf("second Put: %v after %d requests", err, srv.requests.Load())
	}
}

// TestStalledAttemptIsRetried checks that an upload whose connection
// hangs is abandoned and retried, not waited on forever.
func TestStalledAttemptIsRetried(t *testing.T) {
	var first atomic.Bool
	release := make(chan struct{})
	defer close(release)
	srv := newFakeS3(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if !first.Swap(true) {
			<-release
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	p := testPlugin(t, staticCreds)
	tune := p.tune
	p.tune = func(tu *tuning) { tune(tu); tu.retry.AttemptFloor = 300 * time.Millisecond }
	d := configure(t, p, baseConfig(map[string]any{"endpoint": srv.URL, "path_style": true, "region": "us-east-1"}))
	start := time.Now()
	if _, _, err := putOne(t, d); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if srv.requests.Load() != 2 || time.Since(start) > 10*time.Second {
		t.Fatalf("%d requests in %v", srv.requests.Load(), time.Since(start))
	}
}
