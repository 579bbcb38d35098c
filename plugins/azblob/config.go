package azblob

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// settings is a destination's validated configuration.
type settings struct {
	Account         string
	Container       string
	Folder          string // normalised: no leading or trailing slash
	SAS             url.Values
	TenantID        string
	ClientID        string
	EncryptionScope string
	Endpoint        string // the blob service URL, never empty
	Manifest        bool   // write _manifest.json with each dump

	UploadConcurrency int
	MaxAttempts       int
}

var (
	accountName   = regexp.MustCompile(`^[a-z0-9]{3,24}$`)
	containerName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	guid          = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	domainName    = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9.-]*\.[a-zA-Z]{2,}$`)
	scopeName     = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]{1,62}$`)
)

// parseSettings checks every attribute without touching the network. The
// SDK already checked types, required attributes and the numbers' ranges,
// and filled in the defaults; errors are configuration errors naming the
// attribute at fault.
func parseSettings(cfg sdk.Config) (settings, error) {
	s := settings{
		Account:           strings.TrimSpace(cfg.String("storage_account")),
		Container:         strings.TrimSpace(cfg.String("container")),
		TenantID:          strings.TrimSpace(cfg.String("tenant_id")),
		ClientID:          strings.TrimSpace(cfg.String("client_id")),
		EncryptionScope:   strings.TrimSpace(cfg.String("encryption_scope")),
		UploadConcurrency: cfg.Int("upload_concurrency", 0),
		MaxAttempts:       cfg.Int("max_attempts", 0),
		Manifest:          cfg.Bool("manifest", false),
	}
	var err error
	if !accountName.MatchString(s.Account) {
		return s, sdk.ConfigError("storage_account", fmt.Errorf("%q is not a storage account name (3 to 24 lower-case letters and digits; the name, not a URL)", s.Account))
	}
	if err := checkContainer(s.Container); err != nil {
		return s, sdk.ConfigError("container", err)
	}
	if s.Folder, err = legacylayout.NormalizeFolder(cfg.String("folder")); err != nil {
		return s, sdk.ConfigError("folder", err)
	}
	if cfg.Has("sas_token") {
		if s.SAS, err = parseSAS(cfg.String("sas_token")); err != nil {
			return s, sdk.ConfigError("sas_token", err)
		}
		for _, attr := range []string{"tenant_id", "client_id"} {
			if cfg.Has(attr) {
				return s, sdk.ConfigError(attr, errors.New("has no meaning with sas_token: the SAS token is the only credential used"))
			}
		}
	}
	if cfg.Has("tenant_id") && !guid.MatchString(s.TenantID) && !domainName.MatchString(s.TenantID) {
		return s, sdk.ConfigError("tenant_id", fmt.Errorf("%q is not a tenant ID (a GUID) or a tenant domain such as acme.onmicrosoft.com", s.TenantID))
	}
	if cfg.Has("client_id") && !guid.MatchString(s.ClientID) {
		return s, sdk.ConfigError("client_id", fmt.Errorf("%q is not a client ID (a GUID)", s.ClientID))
	}
	if cfg.Has("encryption_scope") && !scopeName.MatchString(s.EncryptionScope) {
		return s, sdk.ConfigError("encryption_scope", fmt.Errorf("%q is not an encryption scope name (3 to 63 letters, digits and hyphens)", s.EncryptionScope))
	}
	if s.Endpoint, err = cfg.URL("endpoint"); err != nil {
		return s, err
	}
	if s.Endpoint == "" {
		s.Endpoint = "https://" + s.Account + ".blob.core.windows.net"
	}
	return s, nil
}

func checkContainer(c string) error {
	if strings.Contains(c, "/") {
		return fmt.Errorf("%q is not a container name: a name has no slash (a blob name prefix goes in folder)", c)
	}
	if !containerName.MatchString(c) || strings.Contains(c, "--") {
		return fmt.Errorf("%q is not a container name (3 to 63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit)", c)
	}
	return nil
}

// parseSAS checks that a SAS token is one (its permissions and expiry are
// judged by the service, and explained by Check). The token itself never
// appears in errors.
func parseSAS(token string) (url.Values, error) {
	token = strings.TrimPrefix(strings.TrimSpace(token), "?")
	if strings.HasPrefix(token, "http://") || strings.HasPrefix(token, "https://") {
		return nil, errors.New("give the SAS token alone (the part after ? in a SAS URL), not the URL")
	}
	q, err := url.ParseQuery(token)
	if err != nil {
		return nil, errors.New("is not a SAS token: it does not parse as a query string")
	}
	for _, k := range []string{"sv", "sig"} {
		if q.Get(k) == "" {
			return nil, fmt.Errorf("is not a SAS token: it has no %s field", k)
		}
	}
	if q.Get("sp") == "" && q.Get("si") == "" {
		return nil, errors.New("is not a SAS token: it has neither permissions (sp) nor a stored access policy (si)")
	}
	return q, nil
}

// credentialAttr is the attribute to fix when the service refuses the
// credentials: the SAS token, or none for the platform's own identity.
func (s *settings) credentialAttr() string {
	if s.SAS != nil {
		return "sas_token"
	}
	return ""
}

// grantAttr is the attribute to fix when the credentials may not write.
func (s *settings) grantAttr() string {
	if s.SAS != nil {
		return "sas_token"
	}
	return "container"
}
