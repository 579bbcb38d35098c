package gcs

import (
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// settings is a destination's validated configuration.
type settings struct {
	Bucket                 string
	Folder                 string // normalised: no leading or trailing slash
	ServiceAccount         string // empty: the platform writes as itself
	CredentialsFile        string // empty: Application Default Credentials
	credentialsJSON        []byte // the file's content, read at Configure
	KMSKeyName             string
	Endpoint               string // empty: Google's
	IAMCredentialsEndpoint string // empty: Google's
	Manifest               bool   // write _manifest.json with each dump

	UploadConcurrency int
	MaxAttempts       int
}

var (
	bucketName     = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$`)
	serviceAccount = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*@[a-z0-9][a-z0-9.-]*\.gserviceaccount\.com$`)
	kmsKeyName     = regexp.MustCompile(`^projects/[^/\s]+/locations/[^/\s]+/keyRings/[^/\s]+/cryptoKeys/[^/\s]+$`)
)

// parseSettings checks every attribute without touching the network. The
// SDK already checked types, required attributes and the numbers' ranges,
// and filled in the defaults; errors are configuration errors naming the
// attribute at fault.
func parseSettings(cfg sdk.Config) (settings, error) {
	s := settings{
		Bucket:            strings.TrimSpace(cfg.String("bucket")),
		ServiceAccount:    strings.TrimSpace(cfg.String("impersonate_service_account")),
		KMSKeyName:        strings.TrimSpace(cfg.String("kms_key_name")),
		UploadConcurrency: cfg.Int("upload_concurrency", 0),
		MaxAttempts:       cfg.Int("max_attempts", 0),
		Manifest:          cfg.Bool("manifest", false),
	}
	var err error
	if err := checkBucket(s.Bucket); err != nil {
		return s, sdk.ConfigError("bucket", err)
	}
	if s.Folder, err = legacylayout.NormalizeFolder(cfg.String("folder")); err != nil {
		return s, sdk.ConfigError("folder", err)
	}
	if cfg.Has("impersonate_service_account") && !serviceAccount.MatchString(s.ServiceAccount) {
		return s, sdk.ConfigError("impersonate_service_account", fmt.Errorf(
			"%q is not a service account email such as platform-export@acme-project.iam.gserviceaccount.com", s.ServiceAccount))
	}
	if cfg.Has("credentials_file") {
		if s.CredentialsFile, s.credentialsJSON, err = readCredentialsFile(cfg.String("credentials_file")); err != nil {
			return s, sdk.PlatformError("credentials_file", err)
		}
	}
	if cfg.Has("kms_key_name") {
		if err := checkKMSKeyName(s.KMSKeyName); err != nil {
			return s, sdk.ConfigError("kms_key_name", err)
		}
	}
	if s.Endpoint, err = cfg.URL("endpoint"); err != nil {
		return s, err
	}
	if s.IAMCredentialsEndpoint, err = cfg.URL("iam_credentials_endpoint"); err != nil {
		return s, err
	}
	return s, nil
}

func checkBucket(b string) error {
	if rest, ok := strings.CutPrefix(b, "gs://"); ok {
		name, prefix, _ := strings.Cut(rest, "/")
		return fmt.Errorf("use the bucket name without gs:// (bucket = %q; an object prefix such as %q goes in folder)", name, prefix)
	}
	if strings.Contains(b, "/") {
		return fmt.Errorf("%q is not a bucket name: a name has no slash (an object prefix goes in folder)", b)
	}
	if strings.ToLower(b) != b {
		return fmt.Errorf("%q is not a bucket name: bucket names are lower case", b)
	}
	if !bucketName.MatchString(b) || strings.Contains(b, "..") || net.ParseIP(b) != nil || strings.HasPrefix(b, "goog") {
		return fmt.Errorf("%q is not a valid Cloud Storage bucket name (3 to 63 lower-case letters, digits, dashes, underscores and dots, starting and ending with a letter or digit)", b)
	}
	for _, part := range strings.Split(b, ".") {
		if len(part) > 63 {
			return fmt.Errorf("%q is not a valid Cloud Storage bucket name: each dot-separated part has at most 63 characters", b)
		}
	}
	return nil
}

func checkKMSKeyName(k string) error {
	if strings.Contains(k, "/cryptoKeyVersions/") {
		return fmt.Errorf("%q names a key version: name the key itself (without /cryptoKeyVersions/...)", k)
	}
	if !kmsKeyName.MatchString(k) {
		return fmt.Errorf("%q is not a Cloud KMS key name such as projects/acme/locations/europe-west1/keyRings/exports/cryptoKeys/dumps", k)
	}
	return nil
}

// readCredentialsFile reads the platform's credentials once, so that a
// missing or unreadable file is a configuration error at startup. Its
// content never appears in errors.
func readCredentialsFile(path string) (string, []byte, error) {
	path = strings.TrimSpace(path)
	if path == "" {
		return "", nil, errors.New("must not be empty; leave it unset to use Application Default Credentials")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("read the credentials file: %w", err)
	}
	if _, err := credentialsType(data); err != nil {
		return "", nil, fmt.Errorf("credentials file %s: %w", path, err)
	}
	return path, data, nil
}

// identityAttr is the attribute that names the platform's own identity in
// error messages: the credentials file, or none for the daemon's default
// credentials.
func (s *settings) identityAttr() string {
	if s.CredentialsFile != "" {
		return "credentials_file"
	}
	return ""
}

// writerAttr is the attribute to fix when the identity that writes may
// not: the impersonated service account, or the bucket's grants to the
// platform itself.
func (s *settings) writerAttr() string {
	if s.ServiceAccount != "" {
		return "impersonate_service_account"
	}
	return "bucket"
}
