package s3legacy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/destinationtest"
)

const (
	testRole = "arn:aws:iam::123456789012:role/platform-export"
	testKMS  = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

func baseConfig(extra map[string]any) map[string]any {
	c := map[string]any{"bucket": "acme-platform-dump", "role_arn": testRole, "external_id": "acme"}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func TestSchema(t *testing.T) {
	s := (&Plugin{}).Schema()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, r := range sdk.ReservedAttributes {
		if s.Attribute(r) != nil {
			t.Errorf("schema declares reserved attribute %q", r)
		}
	}
	var required []string
	for _, a := range s.Attributes {
		if a.Description == "" {
			t.Errorf("%s has no description", a.Name)
		}
		if a.Sensitive {
			t.Errorf("%s is marked sensitive, but no attribute holds a secret", a.Name)
		}
		if a.Required {
			required = append(required, a.Name)
		}
	}
	if got := strings.Join(required, ","); got != "bucket,role_arn" {
		t.Errorf("required attributes %s", got)
	}
	if s.Capabilities.MaxObjectSize != 5<<30 {
		t.Errorf("max object size %d, want one PutObject's 5 GiB", s.Capabilities.MaxObjectSize)
	}
}

func TestParseSettings(t *testing.T) {
	tests := []struct {
		name  string
		extra map[string]any
		check func(t *testing.T, s settings)
	}{
		{"defaults", nil, func(t *testing.T, s settings) {
			if s.ACL != "bucket-owner-full-control" || s.Region != "" || s.Folder != "" || s.UploadConcurrency != 4 || s.MaxAttempts != 8 || s.PathStyle {
				t.Errorf("%+v", s)
			}
			if s.bucketResource() != "arn:aws:s3:::acme-platform-dump" || s.objectResource() != "arn:aws:s3:::acme-platform-dump/*" {
				t.Error(s.bucketResource(), s.objectResource())
			}
		}},
		{"folder normalised", map[string]any{"folder": "/dumps/acme/"}, func(t *testing.T, s settings) {
			if s.Folder != "dumps/acme" {
				t.Errorf("folder %q", s.Folder)
			}
		}},
		{"acl none sends no header", map[string]any{"acl": "none"}, func(t *testing.T, s settings) {
			if s.ACL != "" {
				t.Errorf("acl %q", s.ACL)
			}
		}},
		{"kms key gives the region", map[string]any{"kms_key_arn": testKMS}, func(t *testing.T, s settings) {
			if s.Region != "eu-west-1" || s.KMSKeyARN != testKMS {
				t.Errorf("region %q key %q", s.Region, s.KMSKeyARN)
			}
		}},
		{"kms alias", map[string]any{"kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:alias/exports", "region": "eu-west-1"}, nil},
		{"role with a path", map[string]any{"role_arn": "arn:aws:iam::123456789012:role/service/exports/platform-export"}, nil},
		{"china partition", map[string]any{"role_arn": "arn:aws-cn:iam::123456789012:role/x", "region": "cn-north-1"}, func(t *testing.T, s settings) {
			if s.bucketResource() != "arn:aws-cn:s3:::acme-platform-dump" {
				t.Error(s.bucketResource())
			}
		}},
		{"endpoints", map[string]any{"endpoint": "http://127.0.0.1:9000/", "sts_endpoint": "https://sts.eu-west-1.amazonaws.com", "path_style": true}, func(t *testing.T, s settings) {
			if s.Endpoint != "http://127.0.0.1:9000" || !s.PathStyle {
				t.Errorf("%+v", s)
			}
		}},
		{"tuning numbers", map[string]any{"upload_concurrency": 16, "max_attempts": 3}, func(t *testing.T, s settings) {
			if s.UploadConcurrency != 16 || s.MaxAttempts != 3 {
				t.Errorf("%+v", s)
			}
		}},
		{"dotted bucket", map[string]any{"bucket": "dumps.acme.example"}, nil},
		{"external ID from the account", map[string]any{"external_id": nil}, func(t *testing.T, s settings) {
			if s.ExternalID != "acme" {
				t.Errorf("external ID %q, want the account id", s.ExternalID)
			}
		}},
	}
	schema := (&Plugin{}).Schema()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseSettings(schema.WithDefaults(sdk.NewConfig(baseConfig(tc.extra))), "acme")
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

// invalidConfigs are refused by Configure, each naming the attribute at
// fault and saying what is wrong. The conformance suite runs them through
// the binary too.
var invalidConfigs = []struct {
	name, attr, says string
	config           map[string]any
}{
	{"bucket ARN", "bucket", "use the bucket name, not its ARN (arn:aws:s3:::acme-dump → acme-dump)", baseConfig(map[string]any{"bucket": "arn:aws:s3:::acme-dump"})},
	{"bucket URL", "bucket", `bucket = "acme-dump"`, baseConfig(map[string]any{"bucket": "s3://acme-dump/exports"})},
	{"bucket with a slash", "bucket", "goes in folder", baseConfig(map[string]any{"bucket": "acme-dump/exports"})},
	{"bucket upper case", "bucket", "lower case", baseConfig(map[string]any{"bucket": "Acme-Dump"})},
	{"bucket too short", "bucket", "not a valid S3 bucket name", baseConfig(map[string]any{"bucket": "ab"})},
	{"bucket as IP", "bucket", "not a valid S3 bucket name", baseConfig(map[string]any{"bucket": "192.168.1.1"})},
	{"empty bucket", "bucket", "not a valid S3 bucket name", baseConfig(map[string]any{"bucket": ""})},
	{"user ARN", "role_arn", "ARN of an IAM user, not of a role", baseConfig(map[string]any{"role_arn": "arn:aws:iam::123456789012:user/alice"})},
	{"session ARN", "role_arn", "assumed-role", baseConfig(map[string]any{"role_arn": "arn:aws:sts::123456789012:assumed-role/x/y"})},
	{"short account", "role_arn", "not a role ARN", baseConfig(map[string]any{"role_arn": "arn:aws:iam::12345:role/x"})},
	{"role name only", "role_arn", "not a role ARN", baseConfig(map[string]any{"role_arn": "platform-export"})},
	{"external ID too short", "external_id", "2 to 1224", baseConfig(map[string]any{"external_id": "a"})},
	{"external ID with a space", "external_id", "2 to 1224", baseConfig(map[string]any{"external_id": "acme corp"})},
	{"dot-dot folder", "folder", `".."`, baseConfig(map[string]any{"folder": "a/../b"})},
	{"folder with an empty segment", "folder", "empty path segment", baseConfig(map[string]any{"folder": "a//b"})},
	{"region", "region", "not an AWS region", baseConfig(map[string]any{"region": "Ireland"})},
	{"KMS key ID only", "kms_key_arn", "not a KMS key ARN", baseConfig(map[string]any{"kms_key_arn": "1234abcd-12ab-34cd-56ef-1234567890ab"})},
	{"KMS key elsewhere", "kms_key_arn", "region eu-west-1 but the bucket in us-east-1", baseConfig(map[string]any{"kms_key_arn": testKMS, "region": "us-east-1"})},
	{"KMS key in another partition", "kms_key_arn", "partition", baseConfig(map[string]any{"kms_key_arn": strings.Replace(testKMS, "arn:aws:", "arn:aws-cn:", 1)})},
	{"public ACL", "acl", `"public-read" is not one of "bucket-owner-full-control"`, baseConfig(map[string]any{"acl": "public-read"})},
	{"session name", "session_name", "2 to 64", baseConfig(map[string]any{"session_name": "has space"})},
	{"endpoint scheme", "endpoint", "http(s) URL", baseConfig(map[string]any{"endpoint": "ftp://127.0.0.1"})},
	{"sts endpoint without host", "sts_endpoint", "http(s) URL", baseConfig(map[string]any{"sts_endpoint": "https://"})},
	{"no concurrency", "upload_concurrency", "0 is not a whole number from 1 to 64", baseConfig(map[string]any{"upload_concurrency": 0})},
	{"fractional attempts", "max_attempts", "2.5 is not a whole number from 1 to 20", baseConfig(map[string]any{"max_attempts": 2.5})},
	{"empty profile", "profile", "must not be empty", baseConfig(map[string]any{"profile": " "})},
	{"missing role", "role_arn", "required", map[string]any{"bucket": "acme-dump"}},
	{"bucket of the wrong type", "bucket", "must be a string", baseConfig(map[string]any{"bucket": 42})},
}

func TestConfigureRefuses(t *testing.T) {
	for _, tc := range invalidConfigs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := destinationtest.Configure(context.Background(), t, &Plugin{}, sdk.DestinationInfo{Name: "acme", Account: "acme"}, tc.config)
			destinationtest.RequireConfigError(t, err, tc.attr, tc.says)
		})
	}
	// Unset, the external ID is the account id, which must do as one.
	_, err := destinationtest.Configure(context.Background(), t, &Plugin{}, sdk.DestinationInfo{Name: "acme", Account: "a"},
		map[string]any{"bucket": "acme-dump", "role_arn": testRole})
	destinationtest.RequireConfigError(t, err, "external_id", `unset, so it is the account id "a"`)
}

func TestUnknownProfile(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	if err := os.WriteFile(cfgFile, []byte("[profile platform]\nregion = eu-west-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	info := sdk.DestinationInfo{Name: "acme", Account: "acme"}
	if _, err := destinationtest.Configure(context.Background(), t, &Plugin{}, info, baseConfig(map[string]any{"profile": "platform"})); err != nil {
		t.Fatalf("existing profile: %v", err)
	}
	_, err := destinationtest.Configure(context.Background(), t, &Plugin{}, info, baseConfig(map[string]any{"profile": "nope"}))
	destinationtest.RequireConfigError(t, err, "profile")
	if !sdk.IsPlatformError(err) {
		t.Fatalf("an unknown profile of the platform's identity is not said to be the platform's: %v", err)
	}
}

func TestRoleSessionName(t *testing.T) {
	tests := []struct{ configured, account, want string }{
		{"", "acme", "exportd-acme"},
		{"", "acme corp/ü", "exportd-acme-corp--"},
		{"custom-session", "acme", "custom-session"},
		{"", strings.Repeat("a", 100), "exportd-" + strings.Repeat("a", 56)},
	}
	for _, tc := range tests {
		s := settings{SessionName: tc.configured}
		got := s.roleSessionName(tc.account)
		if got != tc.want || !sessionName.MatchString(got) {
			t.Errorf("roleSessionName(%q) with %q = %q, want %q", tc.account, tc.configured, got, tc.want)
		}
	}
}

func TestPrincipalARN(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:sts::485801740390:assumed-role/dreamdata_destination_s3/i-0abc": "arn:aws:iam::485801740390:role/dreamdata_destination_s3",
		"arn:aws:iam::123456789012:user/platform":                                "arn:aws:iam::123456789012:user/platform",
	} {
		if got := principalARN(in); got != want {
			t.Errorf("principalARN(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestAllowedACLsAreNotPublic(t *testing.T) {
	schema := (&Plugin{}).Schema()
	acl := schema.Attribute("acl")
	for _, a := range acl.Enum {
		if strings.Contains(a, "public") || strings.Contains(a, "authenticated") {
			t.Errorf("ACL %s would expose a customer's dump", a)
		}
	}
	if !slices.Contains(acl.Enum, acl.Default.(string)) {
		t.Error("default ACL is not allowed")
	}
}
