package gcs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/exportd/exportd/sdk"
)

// scope is what both the platform's token (to call the IAM Credentials
// API) and the token that writes ask for. The customer's grants, not the
// scope, limit what the token may do.
const scope = "https://www.googleapis.com/auth/cloud-platform"

const googleIAMCredentials = "https://iamcredentials.googleapis.com"

// The credential file types the platform's identity may come from.
var credentialTypes = []string{"service_account", "authorized_user", "external_account", "external_account_authorized_user", "impersonated_service_account"}

// credentialsType returns the type field of a credentials JSON file.
func credentialsType(data []byte) (string, error) {
	var f struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return "", errors.New("not a credentials JSON file") // the content may be secret: no detail
	}
	if !slices.Contains(credentialTypes, f.Type) {
		return "", fmt.Errorf("credentials of type %q are not supported (use one of %s)", f.Type, strings.Join(credentialTypes, ", "))
	}
	return f.Type, nil
}

// platformCredentials loads the platform's own identity: the credentials
// file, or Application Default Credentials. No request is made.
func platformCredentials(ctx context.Context, s *settings) (oauth2.TokenSource, string, error) {
	if s.credentialsJSON != nil {
		typ, err := credentialsType(s.credentialsJSON)
		if err != nil {
			return nil, "", sdk.PlatformError("credentials_file", err)
		}
		creds, err := google.CredentialsFromJSONWithType(ctx, s.credentialsJSON, google.CredentialsType(typ), scope)
		if err != nil {
			return nil, "", sdk.PlatformError("credentials_file", fmt.Errorf("load credentials from %s: %w", s.CredentialsFile, err))
		}
		return creds.TokenSource, principalOf(s.credentialsJSON, "the identity in "+s.CredentialsFile), nil
	}
	creds, err := google.FindDefaultCredentials(ctx, scope)
	if err != nil {
		return nil, "", sdk.PlatformError("", fmt.Errorf("find the platform's Application Default Credentials (set GOOGLE_APPLICATION_CREDENTIALS, run on Google Cloud, or set credentials_file): %w", err))
	}
	return creds.TokenSource, principalOf(creds.JSON, "the platform's default Google identity"), nil
}

// principalOf names the identity of a credentials file for messages.
func principalOf(data []byte, fallback string) string {
	var f struct {
		ClientEmail string `json:"client_email"`
	}
	if json.Unmarshal(data, &f) == nil && f.ClientEmail != "" {
		return f.ClientEmail
	}
	return fallback
}

// impersonation is a token source that trades the platform's token for
// one of the customer's service account with the IAM Credentials API's
// generateAccessToken, which needs roles/iam.serviceAccountTokenCreator
// on that account and nothing else.
type impersonation struct {
	endpoint string // IAM Credentials API base URL
	target   string // service account email
	client   *http.Client
}

// tokenError is a failure to obtain a token, with the HTTP status of the
// answer (0 when none arrived).
type tokenError struct {
	target string
	status int
	msg    string
	err    error
}

func (e *tokenError) Error() string {
	if e.status != 0 {
		return fmt.Sprintf("impersonate %s: HTTP %d: %s", e.target, e.status, e.msg)
	}
	return fmt.Sprintf("impersonate %s: %v", e.target, e.err)
}

func (e *tokenError) Unwrap() error { return e.err }

// impersonatedSource returns a cached token source for the customer's
// service account, renewed five minutes before each token expires.
func impersonatedSource(s *settings, base oauth2.TokenSource, transport http.RoundTripper) oauth2.TokenSource {
	endpoint := s.IAMCredentialsEndpoint
	if endpoint == "" {
		endpoint = googleIAMCredentials
	}
	imp := &impersonation{
		endpoint: endpoint,
		target:   s.ServiceAccount,
		// oauth2.TokenSource carries no context: a timeout bounds the call.
		client: &http.Client{Timeout: time.Minute, Transport: &oauth2.Transport{Source: base, Base: transport}},
	}
	return oauth2.ReuseTokenSourceWithExpiry(nil, imp, 5*time.Minute)
}

// Token asks for a one-hour access token of the target account.
func (i *impersonation) Token() (*oauth2.Token, error) {
	body, _ := json.Marshal(map[string]any{"scope": []string{scope}, "lifetime": "3600s"})
	u := fmt.Sprintf("%s/v1/projects/-/serviceAccounts/%s:generateAccessToken", i.endpoint, url.PathEscape(i.target))
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, &tokenError{target: i.target, err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := i.client.Do(req)
	if err != nil {
		return nil, &tokenError{target: i.target, err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, &tokenError{target: i.target, err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &tokenError{target: i.target, status: resp.StatusCode, msg: apiMessage(data)}
	}
	var out struct {
		AccessToken string    `json:"accessToken"`
		ExpireTime  time.Time `json:"expireTime"`
	}
	if err := json.Unmarshal(data, &out); err != nil || out.AccessToken == "" {
		return nil, &tokenError{target: i.target, err: fmt.Errorf("unexpected answer from the IAM Credentials API: %v", err)}
	}
	return &oauth2.Token{AccessToken: out.AccessToken, TokenType: "Bearer", Expiry: out.ExpireTime}, nil
}

// apiMessage extracts the message of a Google API error body.
func apiMessage(data []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	return strings.TrimSpace(string(data[:min(len(data), 300)]))
}

// classifyToken turns a failure to get the writing identity's token into
// an error that says what to fix, or nil if err is no such failure.
func (d *destination) classifyToken(err error) error {
	// The platform's own token is fetched inside the impersonation call:
	// look for its failure first.
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.Response != nil && (re.Response.StatusCode == http.StatusTooManyRequests || re.Response.StatusCode >= 500) {
			return sdk.Retryable(fmt.Errorf("get a token for %s: %w", d.principal, re))
		}
		return sdk.PlatformError(d.s.identityAttr(), fmt.Errorf("Google refused the platform's own credentials (%s): %w", d.principal, re))
	}
	var te *tokenError
	if errors.As(err, &te) {
		switch {
		case te.status == http.StatusForbidden || te.status == http.StatusNotFound:
			return sdk.ConfigError("impersonate_service_account", fmt.Errorf(
				"%s may not impersonate %s: the customer must grant it roles/iam.serviceAccountTokenCreator on that service account (and the account must exist and be enabled): %w",
				d.principal, d.s.ServiceAccount, te))
		case te.status == http.StatusUnauthorized || te.status == http.StatusBadRequest:
			return sdk.PlatformError(d.s.identityAttr(), fmt.Errorf("the IAM Credentials API refused %s's own credentials: %w", d.principal, te))
		}
		return sdk.Retryable(te)
	}
	return nil
}
