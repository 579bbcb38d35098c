package testsupport

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// GCS is fake-gcs-server, run in process on 127.0.0.1, behind a front that
// plays the parts of Google Cloud that fake-gcs-server leaves out, the way
// Google documents them:
//
//   - an OAuth 2.0 token endpoint that accepts the JWT-bearer grant of a
//     service account key, verifying its RS256 signature against the key
//     the test created;
//   - the IAM Credentials API's generateAccessToken, which lets a caller
//     impersonate a service account only if it was allowed to (the role
//     roles/iam.serviceAccountTokenCreator on that account);
//   - IAM on Cloud Storage: every JSON API request must carry a token the
//     front issued (401 otherwise) and the permission its method needs on
//     the bucket, or on the object for grants conditioned on an object name
//     (403 otherwise); replacing an existing object needs
//     storage.objects.delete too, as on Cloud Storage; testIamPermissions
//     answers with the permissions the caller holds on the bucket;
//   - Cloud KMS keys named in kmsKeyName: unknown keys are refused (400),
//     keys the Cloud Storage service agent may not use are refused (403).
//
// fake-gcs-server itself stores the objects, verifies the CRC32C and MD5
// an upload declares, and honours generation preconditions.
type GCS struct {
	// URL is the front's base URL: the plugin's endpoint (its JSON API is
	// under /storage/v1/) and IAM Credentials endpoint.
	URL string
	// TokenURL is the OAuth 2.0 token endpoint named in key files.
	TokenURL string

	fake  *fakestorage.Server
	front *httptest.Server
	rp    *httputil.ReverseProxy

	mu       sync.Mutex
	keys     map[string]*rsa.PublicKey // service account email → key
	tokens   map[string]string         // access token → principal
	creators map[string][]string       // target account → who may impersonate it
	grants   []gcsGrant
	buckets  map[string]bool
	kms      map[string]bool // key name → usable by Cloud Storage
	objKMS   map[string]string
	requests []GCSRequest
}

type gcsGrant struct {
	member, bucket, object, permission string // object "": the whole bucket
}

// GCSRequest is one Cloud Storage request as the front handled it.
type GCSRequest struct {
	Method, Path, Principal string
	// Object is an upload's object name (it travels in the body).
	Object string
	Status int
}

// GCSServiceAccount is a service account with a key the test created.
type GCSServiceAccount struct {
	Email string
	// KeyFile is the path of its JSON key, whose token_uri is the front's.
	KeyFile string
}

// StartGCS starts fake-gcs-server and its front, stopped when the test ends.
func StartGCS(tb testing.TB) *GCS {
	tb.Helper()
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Writer: io.Discard})
	if err != nil {
		tb.Fatalf("start fake-gcs-server: %v", err)
	}
	tb.Cleanup(fake.Stop)
	upstream, _ := url.Parse(fake.URL())
	g := &GCS{
		fake:     fake,
		keys:     map[string]*rsa.PublicKey{},
		tokens:   map[string]string{},
		creators: map[string][]string{},
		buckets:  map[string]bool{},
		kms:      map[string]bool{},
		objKMS:   map[string]string{},
		rp:       &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(upstream) }},
	}
	g.front = httptest.NewServer(http.HandlerFunc(g.serve))
	tb.Cleanup(g.front.Close)
	g.URL = g.front.URL
	g.TokenURL = g.URL + "/token"
	return g
}

// CreateBucket creates an empty bucket.
func (g *GCS) CreateBucket(name string) {
	g.fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
	g.mu.Lock()
	g.buckets[name] = true
	g.mu.Unlock()
}

// NewServiceAccount creates a service account with a fresh RSA key and
// writes its JSON key file into a temporary directory of tb.
func (g *GCS) NewServiceAccount(tb testing.TB, email string) GCSServiceAccount {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	g.mu.Lock()
	g.keys[email] = &key.PublicKey
	g.mu.Unlock()
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mustPKCS8(tb, key)})
	data, _ := json.MarshalIndent(map[string]string{
		"type":           "service_account",
		"project_id":     strings.SplitN(strings.SplitN(email, "@", 2)[1], ".", 2)[0],
		"private_key_id": randomHex(8),
		"private_key":    string(pemKey),
		"client_email":   email,
		"client_id":      "1" + randomHex(6),
		"token_uri":      g.TokenURL,
	}, "", "  ")
	path := filepath.Join(tb.TempDir(), "key.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return GCSServiceAccount{Email: email, KeyFile: path}
}

func mustPKCS8(tb testing.TB, key *rsa.PrivateKey) []byte {
	b, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Grant gives member the permissions on the whole bucket.
func (g *GCS) Grant(member, bucket string, permissions ...string) {
	g.GrantOnObject(member, bucket, "", permissions...)
}

// GrantOnObject gives member the permissions on one object name only, as
// an IAM condition on resource.name does.
func (g *GCS) GrantOnObject(member, bucket, object string, permissions ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range permissions {
		g.grants = append(g.grants, gcsGrant{member: member, bucket: bucket, object: object, permission: p})
	}
}

// AllowImpersonation grants caller roles/iam.serviceAccountTokenCreator
// on target.
func (g *GCS) AllowImpersonation(caller, target string) {
	g.mu.Lock()
	g.creators[target] = append(g.creators[target], caller)
	g.mu.Unlock()
}

// AddKMSKey creates a Cloud KMS key; usable says whether the Cloud Storage
// service agent may encrypt with it.
func (g *GCS) AddKMSKey(name string, usable bool) {
	g.mu.Lock()
	g.kms[name] = usable
	g.mu.Unlock()
}

// Object returns an object's bytes, or an error wrapping fs.ErrNotExist.
func (g *GCS) Object(bucket, name string) ([]byte, error) {
	o, err := g.fake.GetObject(bucket, name)
	if err != nil {
		return nil, fmt.Errorf("gs://%s/%s: %w (%v)", bucket, name, fs.ErrNotExist, err)
	}
	return o.Content, nil
}

// ObjectNames lists a bucket's object names, sorted.
func (g *GCS) ObjectNames(bucket string) ([]string, error) {
	objs, _, err := g.fake.ListObjects(bucket, "", "", false)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.Name)
	}
	sort.Strings(names)
	return names, nil
}

// ObjectKMSKey is the KMS key an object was uploaded with, or "".
func (g *GCS) ObjectKMSKey(bucket, name string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.objKMS[bucket+"/"+name]
}

// Requests returns the Cloud Storage requests handled so far, in order.
func (g *GCS) Requests() []GCSRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.requests)
}

func (g *GCS) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/token" && r.Method == http.MethodPost:
		g.serveToken(w, r)
	case strings.HasPrefix(r.URL.Path, "/v1/projects/-/serviceAccounts/") && r.Method == http.MethodPost:
		g.serveImpersonation(w, r)
	case strings.HasPrefix(r.URL.Path, "/storage/v1/") || strings.HasPrefix(r.URL.Path, "/upload/storage/v1/"):
		g.serveStorage(w, r)
	default:
		googleError(w, http.StatusNotFound, "notFound", "Not Found")
	}
}

// issue creates an access token for principal, valid for an hour.
func (g *GCS) issue(principal string) (string, time.Time) {
	tok := "ya29.fake-" + randomHex(24)
	g.mu.Lock()
	g.tokens[tok] = principal
	g.mu.Unlock()
	return tok, time.Now().Add(time.Hour).UTC()
}

func (g *GCS) principal(r *http.Request) string {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tokens[tok]
}

// allowed reports whether member holds permission on the object (or, for
// object "", on the bucket itself). g.mu is held.
func (g *GCS) allowed(member, bucket, object, permission string) bool {
	for _, gr := range g.grants {
		if gr.member == member && gr.bucket == bucket && gr.permission == permission && (gr.object == "" || gr.object == object) {
			return true
		}
	}
	return false
}

// googleError answers as Google's JSON APIs do.
func googleError(w http.ResponseWriter, status int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": status, "message": msg,
		"errors": []map[string]string{{"message": msg, "domain": "global", "reason": reason}},
	}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

// errGCSBody is returned when an upload's metadata cannot be read.
var errGCSBody = errors.New("cannot read the upload's metadata")

// uploadName finds an upload's object name: the name parameter, or the
// metadata part of a multipart upload. The body is returned for forwarding.
func uploadName(r *http.Request) (string, []byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return "", nil, err
	}
	if n := r.URL.Query().Get("name"); n != "" {
		return n, body, nil
	}
	var meta struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(firstPart(r.Header.Get("Content-Type"), body)).Decode(&meta); err != nil || meta.Name == "" {
		return "", body, errGCSBody
	}
	return meta.Name, body, nil
}

// readerOf makes a forwarded request's body again.
func readerOf(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }
