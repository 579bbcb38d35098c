package s3legacy

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
)

// fakeSTS answers AssumeRole as assume decides and GetCallerIdentity with
// an instance role's session, recording the AssumeRole requests.
type fakeSTS struct {
	*httptest.Server
	mu      sync.Mutex
	assumes []map[string]string
}

func newFakeSTS(t *testing.T, assume func(w http.ResponseWriter, n int)) *fakeSTS {
	f := &fakeSTS{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		switch r.PostForm.Get("Action") {
		case "GetCallerIdentity":
			fmt.Fprint(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>
<Arn>arn:aws:sts::485801740390:assumed-role/dreamdata_destination_s3/i-0abc</Arn><UserId>AROA:i-0abc</UserId><Account>485801740390</Account>
</GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
		case "AssumeRole":
			f.mu.Lock()
			form := map[string]string{}
			for k := range r.PostForm {
				form[k] = r.PostForm.Get(k)
			}
			f.assumes = append(f.assumes, form)
			n := len(f.assumes)
			f.mu.Unlock()
			assume(w, n)
		default:
			http.Error(w, "unexpected action", 400)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSTS) assumeRequests() []map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]string(nil), f.assumes...)
}

func stsError(w http.ResponseWriter, status int, code, msg string) {
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>r</RequestId></ErrorResponse>`, code, msg)
}

func assumeOK(w http.ResponseWriter, expires time.Time, n int) {
	fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIA%d</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken><Expiration>%s</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/platform-export/exportd-acme</Arn><AssumedRoleId>AROA:exportd-acme</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>`, n, expires.UTC().Format(time.RFC3339))
}

// stsPlugin is a plugin that assumes the role through fake STS with the
// platform identity given by static environment credentials.
func stsPlugin(t *testing.T, stsURL string, extra map[string]any) *destination {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDPLATFORM")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "platform-secret")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	cfg := map[string]any{"sts_endpoint": stsURL, "region": "us-east-1", "max_attempts": 3}
	for k, v := range extra {
		cfg[k] = v
	}
	return configure(t, testPlugin(t, nil), baseConfig(cfg))
}

func TestAssumeRoleFailures(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		code     string
		kind     sdk.ErrorKind
		attr     string
		says     []string
		attempts int
	}{
		{"trust policy refuses", 403, "AccessDenied", sdk.KindConfiguration, "role_arn", []string{
			"trust policy must allow sts:AssumeRole to arn:aws:iam::485801740390:role/dreamdata_destination_s3",
			`StringEquals sts:ExternalId = "acme"`, testRole}, 1},
		{"platform credentials rejected", 403, "InvalidClientTokenId", sdk.KindConfiguration, "", []string{"platform's own AWS credentials"}, 1},
		{"throttled", 400, "Throttling", sdk.KindRetryable, "", []string{"Throttling"}, 3},
		{"STS down", 503, "ServiceUnavailable", sdk.KindRetryable, "", nil, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeSTS(t, func(w http.ResponseWriter, _ int) { stsError(w, tc.status, tc.code, "no") })
			d := stsPlugin(t, srv.URL, nil)
			_, err := d.Begin(testContext(t), sdk.ExportInfo{ID: "e", Account: "acme", RunID: "r", Time: exportTime(), Tables: []string{"companies"}})
			if sdk.KindOf(err) != tc.kind || sdk.AttributeOf(err) != tc.attr {
				t.Fatalf("Begin: %v (kind %v, attribute %q), want %v %q", err, sdk.KindOf(err), sdk.AttributeOf(err), tc.kind, tc.attr)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not say %q:\n%v", s, err)
				}
			}
			if n := len(srv.assumeRequests()); n != tc.attempts {
				t.Errorf("%d AssumeRole requests, want %d", n, tc.attempts)
			}
			if _, err := d.Check(testContext(t)); sdk.KindOf(err) != tc.kind {
				t.Errorf("Check: %v, want kind %v", err, tc.kind)
			}
		})
	}
}

// TestSessionRefreshesBeforeExpiry checks that a session is assumed once,
// served from the cache, and renewed before (not after) it expires, with
// the external ID and the account's session name every time.
func TestSessionRefreshesBeforeExpiry(t *testing.T) {
	var mu sync.Mutex
	var expiries []time.Time
	srv := newFakeSTS(t, func(w http.ResponseWriter, n int) {
		// Whole seconds, as STS sends them.
		exp := time.Now().Add(3 * time.Second).Truncate(time.Second).Add(time.Second)
		mu.Lock()
		expiries = append(expiries, exp)
		mu.Unlock()
		assumeOK(w, exp, n)
	})
	d := stsPlugin(t, srv.URL, nil)
	d.sessions.tuning.refreshWindow = 2 * time.Second // renewed 2 s before expiry
	d.sessions.tuning.refreshJitter = 0
	ctx := testContext(t)
	first, err := d.sessions.retrieve(ctx, "exportd-acme")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := d.sessions.retrieve(ctx, "exportd-acme"); again.AccessKeyID != first.AccessKeyID || len(srv.assumeRequests()) != 1 {
		t.Fatalf("second retrieve assumed again (%d requests)", len(srv.assumeRequests()))
	}
	mu.Lock()
	firstExpiry := expiries[0]
	mu.Unlock()
	time.Sleep(time.Until(firstExpiry.Add(-time.Second))) // inside the window, before expiry
	renewed, err := d.sessions.retrieve(ctx, "exportd-acme")
	if err != nil {
		t.Fatal(err)
	}
	if renewed.AccessKeyID == first.AccessKeyID || !time.Now().Before(firstExpiry) {
		t.Fatalf("session not renewed before expiry: %s then %s", first.AccessKeyID, renewed.AccessKeyID)
	}
	for _, req := range srv.assumeRequests() {
		if req["ExternalId"] != "acme" || req["RoleSessionName"] != "exportd-acme" || req["RoleArn"] != testRole || req["DurationSeconds"] != "3600" {
			t.Errorf("AssumeRole request %v", req)
		}
	}
}

func TestCheckVerdict(t *testing.T) {
	srv := newFakeSTS(t, func(w http.ResponseWriter, n int) { assumeOK(w, time.Now().Add(time.Hour), n) })
	d := stsPlugin(t, srv.URL, map[string]any{"folder": "dumps"})
	msg, err := d.Check(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"assumed arn:aws:sts::123456789012:assumed-role/platform-export/exportd-acme", `external ID "acme"`,
		"as arn:aws:iam::485801740390:role/dreamdata_destination_s3", "s3://acme-platform-dump/dumps/"} {
		if !strings.Contains(msg, s) {
			t.Errorf("verdict does not say %q: %s", s, msg)
		}
	}
}

// TestNoPlatformIdentity: with no AWS identity in the plugin's
// environment and no instance metadata service answering (as when the
// daemon's environment holds the identity but the plugin block does not
// pass it on), the error says so, not that STS cannot be reached.
func TestNoPlatformIdentity(t *testing.T) {
	m := testsupport.SharedMoto(t)
	c := m.NewCustomer(t, testsupport.CustomerOptions{})
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	// An instance metadata service that does not answer, on loopback.
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://"+closedPort(t))
	d := configure(t, testPlugin(t, nil), motoConfig(m, c, nil))
	_, err := d.Check(testContext(t))
	if !sdk.IsRetryable(err) || !strings.Contains(err.Error(), "cannot obtain the platform's own AWS credentials") ||
		!strings.Contains(err.Error(), `env = ["AWS_*"]`) || strings.Contains(err.Error(), "cannot reach STS") {
		t.Fatalf("Check: %v", err)
	}
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
