package testsupport

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// serveToken is the OAuth 2.0 token endpoint for the JWT-bearer grant that
// a service account key makes (RFC 7523), as Google's answers it.
func (g *GCS) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		oauthError(w, "unsupported_grant_type", "Invalid grant_type.")
		return
	}
	email, err := g.verifyAssertion(r.PostForm.Get("assertion"))
	if err != nil {
		oauthError(w, "invalid_grant", err.Error())
		return
	}
	tok, exp := g.issue(email)
	writeJSON(w, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(time.Until(exp).Seconds())})
}

func oauthError(w http.ResponseWriter, code, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// verifyAssertion checks a signed JWT of a service account key: its RS256
// signature against the account's public key, its audience and its expiry.
func (g *GCS) verifyAssertion(assertion string) (string, error) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("Invalid JWT.")
	}
	var claims struct {
		Iss string `json:"iss"`
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(payload, &claims) != nil {
		return "", fmt.Errorf("Invalid JWT payload.")
	}
	g.mu.Lock()
	pub := g.keys[claims.Iss]
	g.mu.Unlock()
	if pub == nil {
		return "", fmt.Errorf("Invalid grant: account not found")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", fmt.Errorf("Invalid JWT Signature.")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) != nil {
		return "", fmt.Errorf("Invalid JWT Signature.")
	}
	if claims.Aud != g.TokenURL || time.Unix(claims.Exp, 0).Before(time.Now()) {
		return "", fmt.Errorf("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.")
	}
	return claims.Iss, nil
}

// serveImpersonation is the IAM Credentials API's generateAccessToken.
// Like Google's, it does not tell a missing account from a refused one.
func (g *GCS) serveImpersonation(w http.ResponseWriter, r *http.Request) {
	caller := g.principal(r)
	if caller == "" {
		googleError(w, http.StatusUnauthorized, "unauthorized", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/v1/projects/-/serviceAccounts/")
	target, ok := strings.CutSuffix(rest, ":generateAccessToken")
	if t, err := url.PathUnescape(target); err == nil {
		target = t
	}
	g.mu.Lock()
	_, exists := g.keys[target]
	permitted := exists && slices.Contains(g.creators[target], caller)
	g.mu.Unlock()
	if !ok || !permitted {
		googleError(w, http.StatusForbidden, "forbidden", "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).")
		return
	}
	tok, exp := g.issue(target)
	writeJSON(w, map[string]string{"accessToken": tok, "expireTime": exp.Format(time.RFC3339)})
}

// serveStorage enforces IAM on a JSON API request and forwards it to
// fake-gcs-server.
func (g *GCS) serveStorage(w http.ResponseWriter, r *http.Request) {
	rec := GCSRequest{Method: r.Method, Path: r.URL.Path, Principal: g.principal(r)}
	status := g.authorizeStorage(w, r, &rec)
	if status == 0 {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		g.rp.ServeHTTP(sw, r)
		status = sw.status
	}
	rec.Status = status
	g.mu.Lock()
	g.requests = append(g.requests, rec)
	g.mu.Unlock()
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// authorizeStorage answers a request that must not reach fake-gcs-server
// and returns its status, or returns 0 to forward it.
func (g *GCS) authorizeStorage(w http.ResponseWriter, r *http.Request, rec *GCSRequest) int {
	who := rec.Principal
	deny := func(status int, reason, msg string) int {
		googleError(w, status, reason, msg)
		return status
	}
	if who == "" {
		return deny(http.StatusUnauthorized, "authError", "Invalid Credentials")
	}
	upload := strings.HasPrefix(r.URL.Path, "/upload/")
	path := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/upload"), "/storage/v1/b/")
	bucket, rest, _ := strings.Cut(path, "/")
	g.mu.Lock()
	exists := g.buckets[bucket]
	g.mu.Unlock()
	if !exists {
		return deny(http.StatusNotFound, "notFound", "The specified bucket does not exist.")
	}
	if rest == "iam/testPermissions" && r.Method == http.MethodGet {
		var held []string
		g.mu.Lock()
		for _, p := range r.URL.Query()["permissions"] {
			if g.allowed(who, bucket, "", p) {
				held = append(held, p)
			}
		}
		g.mu.Unlock()
		writeJSON(w, map[string]any{"kind": "storage#testIamPermissionsResponse", "permissions": held})
		return http.StatusOK
	}
	if upload && r.Method == http.MethodPost {
		return g.authorizeUpload(w, r, rec, bucket, deny)
	}
	object, _ := url.PathUnescape(strings.TrimPrefix(rest, "o/"))
	perm := map[string]string{http.MethodGet: "storage.objects.get", http.MethodHead: "storage.objects.get",
		http.MethodDelete: "storage.objects.delete", http.MethodPatch: "storage.objects.update"}[r.Method]
	switch {
	case rest == "" && r.Method == http.MethodGet:
		perm, object = "storage.buckets.get", ""
	case rest == "o" && r.Method == http.MethodGet:
		perm, object = "storage.objects.list", ""
	case perm == "":
		perm = "storage.objects.create"
	}
	g.mu.Lock()
	ok := g.allowed(who, bucket, object, perm)
	g.mu.Unlock()
	if !ok {
		return deny(http.StatusForbidden, "forbidden", permissionDenied(who, perm, bucket))
	}
	return 0
}

func permissionDenied(who, perm, bucket string) string {
	return fmt.Sprintf("%s does not have %s access to the Google Cloud Storage object. Permission '%s' denied on resource (or it may not exist).", who, perm, perm)
}

// authorizeUpload checks an object insert: create on the bucket, delete
// too when it would replace an object, and the KMS key it names.
func (g *GCS) authorizeUpload(w http.ResponseWriter, r *http.Request, rec *GCSRequest, bucket string, deny func(int, string, string) int) int {
	who := rec.Principal
	name, body, err := uploadName(r)
	if err != nil {
		return deny(http.StatusBadRequest, "invalid", err.Error())
	}
	rec.Object = name
	r.Body, r.ContentLength = readerOf(body), int64(len(body))
	_, getErr := g.fake.GetObject(bucket, name)
	replaces := getErr == nil && r.URL.Query().Get("ifGenerationMatch") != "0"
	key := r.URL.Query().Get("kmsKeyName")
	g.mu.Lock()
	canCreate := g.allowed(who, bucket, name, "storage.objects.create")
	canDelete := g.allowed(who, bucket, name, "storage.objects.delete")
	usable, known := g.kms[key]
	g.mu.Unlock()
	switch {
	case !canCreate:
		return deny(http.StatusForbidden, "forbidden", permissionDenied(who, "storage.objects.create", bucket))
	case replaces && !canDelete:
		return deny(http.StatusForbidden, "forbidden", permissionDenied(who, "storage.objects.delete", bucket))
	case key != "" && !known:
		return deny(http.StatusBadRequest, "invalid", fmt.Sprintf("Cloud KMS key %q does not exist or is not in the bucket's location.", key))
	case key != "" && !usable:
		return deny(http.StatusForbidden, "forbidden", "Permission denied on Cloud KMS key. Please ensure that your Cloud Storage service account has been authorized to use this key.")
	}
	// Recorded only once stored: fake-gcs-server keeps no key.
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	g.rp.ServeHTTP(sw, r)
	if sw.status == http.StatusOK {
		g.mu.Lock()
		if key != "" {
			g.objKMS[bucket+"/"+name] = key
		} else {
			delete(g.objKMS, bucket+"/"+name)
		}
		g.mu.Unlock()
	}
	return sw.status
}

// firstPart returns the first part of a multipart/related body.
func firstPart(contentType string, body []byte) io.Reader {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil || params["boundary"] == "" {
		return bytes.NewReader(nil)
	}
	p, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).NextPart()
	if err != nil {
		return bytes.NewReader(nil)
	}
	return p
}
