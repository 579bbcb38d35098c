package s3legacy

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// settings is a destination's validated configuration.
type settings struct {
	Bucket      string
	RoleARN     string
	Partition   string // the role's: aws, aws-cn, aws-us-gov, ...
	ExternalID  string
	Folder      string // normalised: no leading or trailing slash
	Region      string // empty: learnt from S3
	KMSKeyARN   string
	ACL         string // "" when no ACL header is sent
	SessionName string // empty: exportd-<account>
	Profile     string
	Endpoint    string
	PathStyle   bool
	STSEndpoint string
	// Manifest: write _manifest.json with each dump.
	Manifest bool

	UploadConcurrency int
	MaxAttempts       int
}

var (
	// Bucket naming rules for general purpose buckets.
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	bucketARN  = regexp.MustCompile(`^arn:[a-z-]+:s3:::([^/]+)(/.*)?$`)
	// arn:<partition>:iam::<account>:role/<path/><name>
	roleARN       = regexp.MustCompile(`^arn:(aws[a-z-]*):iam::(\d{12}):role/((?:[\x21-\x7e]+/)?)([\w+=,.@-]{1,64})$`)
	iamOtherARN   = regexp.MustCompile(`^arn:aws[a-z-]*:(iam|sts)::\d{12}:(user|assumed-role|instance-profile|root|group|policy)\b`)
	kmsARN        = regexp.MustCompile(`^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)$`)
	externalID    = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	sessionName   = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	regionPattern = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$`)
)

// parseSettings checks every attribute without touching the network. The
// SDK already checked types, required attributes, the ACL's values and the
// numbers' ranges, and filled in the defaults; errors are configuration
// errors naming the attribute at fault.
func parseSettings(cfg sdk.Config, account string) (settings, error) {
	s := settings{
		Bucket:            strings.TrimSpace(cfg.String("bucket")),
		RoleARN:           strings.TrimSpace(cfg.String("role_arn")),
		ExternalID:        account,
		Region:            strings.TrimSpace(cfg.String("region")),
		KMSKeyARN:         strings.TrimSpace(cfg.String("kms_key_arn")),
		ACL:               cfg.String("acl"),
		SessionName:       cfg.String("session_name"),
		Profile:           cfg.String("profile"),
		PathStyle:         cfg.Bool("path_style", false),
		UploadConcurrency: cfg.Int("upload_concurrency", 0),
		MaxAttempts:       cfg.Int("max_attempts", 0),
		Manifest:          cfg.Bool("manifest", false),
	}
	if cfg.Has("external_id") {
		s.ExternalID = cfg.String("external_id")
	}
	if err := checkBucket(s.Bucket); err != nil {
		return s, sdk.ConfigError("bucket", err)
	}
	partition, err := checkRoleARN(s.RoleARN)
	if err != nil {
		return s, sdk.ConfigError("role_arn", err)
	}
	s.Partition = partition
	if n := len(s.ExternalID); n < 2 || n > 1224 || !externalID.MatchString(s.ExternalID) {
		what := "must be"
		if !cfg.Has("external_id") {
			what = fmt.Sprintf("is unset, so it is the account id %q, which must be", account)
		}
		return s, sdk.ConfigError("external_id", fmt.Errorf("%s 2 to 1224 characters of letters, digits and +=,.@:/-_ (the customer's trust policy compares it with sts:ExternalId)", what))
	}
	if s.Folder, err = legacylayout.NormalizeFolder(cfg.String("folder")); err != nil {
		return s, sdk.ConfigError("folder", err)
	}
	if cfg.Has("region") && !regionPattern.MatchString(s.Region) {
		return s, sdk.ConfigError("region", fmt.Errorf("%q is not an AWS region name such as eu-west-1", s.Region))
	}
	if cfg.Has("kms_key_arn") {
		if err := s.checkKMS(partition); err != nil {
			return s, sdk.ConfigError("kms_key_arn", err)
		}
	}
	if s.ACL == "none" {
		s.ACL = ""
	}
	if cfg.Has("session_name") && !sessionName.MatchString(s.SessionName) {
		return s, sdk.ConfigError("session_name", errors.New("must be 2 to 64 characters of letters, digits and +=,.@-_"))
	}
	if cfg.Has("profile") && strings.TrimSpace(s.Profile) == "" {
		return s, sdk.ConfigError("profile", errors.New("must not be empty; leave it unset to use the default credential chain"))
	}
	if s.Endpoint, err = cfg.URL("endpoint"); err != nil {
		return s, err
	}
	if s.STSEndpoint, err = cfg.URL("sts_endpoint"); err != nil {
		return s, err
	}
	return s, nil
}

func checkBucket(b string) error {
	if m := bucketARN.FindStringSubmatch(b); m != nil {
		return fmt.Errorf("use the bucket name, not its ARN (%s → %s)", b, m[1])
	}
	if rest, ok := strings.CutPrefix(b, "s3://"); ok {
		name, prefix, _ := strings.Cut(rest, "/")
		return fmt.Errorf("use the bucket name without s3:// (bucket = %q; a key prefix such as %q goes in folder)", name, prefix)
	}
	if strings.Contains(b, "/") {
		return fmt.Errorf("%q is not a bucket name: a name has no slash (a key prefix goes in folder)", b)
	}
	if strings.ToLower(b) != b {
		return fmt.Errorf("%q is not a bucket name: bucket names are lower case", b)
	}
	if !bucketName.MatchString(b) || strings.Contains(b, "..") || net.ParseIP(b) != nil ||
		strings.HasPrefix(b, "xn--") || strings.HasSuffix(b, "-s3alias") || strings.HasSuffix(b, "--ol-s3") {
		return fmt.Errorf("%q is not a valid S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit)", b)
	}
	return nil
}

// checkRoleARN validates a role ARN and returns its partition.
func checkRoleARN(arn string) (string, error) {
	if m := roleARN.FindStringSubmatch(arn); m != nil {
		return m[1], nil
	}
	if m := iamOtherARN.FindStringSubmatch(arn); m != nil {
		return "", fmt.Errorf("%q is the ARN of an IAM %s, not of a role: use the role's ARN, arn:aws:iam::<account>:role/<name>", arn, m[2])
	}
	return "", fmt.Errorf("%q is not a role ARN such as arn:aws:iam::123456789012:role/platform-export", arn)
}

// checkKMS validates the key ARN against the role's partition and the
// bucket's region; S3 only accepts a key in the bucket's own region, so
// an unset region becomes the key's.
func (s *settings) checkKMS(partition string) error {
	m := kmsARN.FindStringSubmatch(s.KMSKeyARN)
	if m == nil {
		return fmt.Errorf("%q is not a KMS key ARN such as arn:aws:kms:eu-west-1:123456789012:key/<key-id> (or alias/<name>)", s.KMSKeyARN)
	}
	if m[1] != partition {
		return fmt.Errorf("key is in partition %s but the role in %s", m[1], partition)
	}
	switch {
	case s.Region == "":
		s.Region = m[2]
	case s.Region != m[2]:
		return fmt.Errorf("key is in region %s but the bucket in %s: S3 only uses a key from the bucket's region", m[2], s.Region)
	}
	return nil
}

// roleSessionName is the session name for an export of account: the
// configured one, or exportd-<account> cut to what STS accepts.
func (s *settings) roleSessionName(account string) string {
	if s.SessionName != "" {
		return s.SessionName
	}
	var b strings.Builder
	b.WriteString("exportd-")
	for _, r := range account {
		if b.Len() >= 64 {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || strings.ContainsRune("_+=,.@-", r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// bucketResource and objectResource name the bucket in IAM policies, for
// error messages that say what the customer must grant.
func (s *settings) bucketResource() string { return "arn:" + s.Partition + ":s3:::" + s.Bucket }
func (s *settings) objectResource() string { return s.bucketResource() + "/*" }
