package s3legacy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/exportd/exportd/sdk"
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
	if got := strings.Join(required, ","); got != "bucket,role_arn,external_id" {
		t.Errorf("required attributes %s", got)
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
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseSettings(sdk.NewConfig(baseConfig(tc.extra)))
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
	{"public ACL", "acl", "not one of", baseConfig(map[string]any{"acl": "public-read"})},
	{"session name", "session_name", "2 to 64", baseConfig(map[string]any{"session_name": "has space"})},
	{"endpoint scheme", "endpoint", "http(s) URL", baseConfig(map[string]any{"endpoint": "ftp://127.0.0.1"})},
	{"sts endpoint without host", "sts_endpoint", "http(s) URL", baseConfig(map[string]any{"sts_endpoint": "https://"})},
	{"no concurrency", "upload_concurrency", "1 to 64", baseConfig(map[string]any{"upload_concurrency": 0})},
	{"fractional attempts", "max_attempts", "1 to 20", baseConfig(map[string]any{"max_attempts": 2.5})},
	{"empty profile", "profile", "must not be empty", baseConfig(map[string]any{"profile": " "})},
	{"missing external ID", "external_id", "required", map[string]any{"bucket": "acme-dump", "role_arn": testRole}},
	{"bucket of the wrong type", "bucket", "must be a string", baseConfig(map[string]any{"bucket": 42})},
}

func TestConfigureRefuses(t *testing.T) {
	p := &Plugin{}
	schema := p.Schema()
	for _, tc := range invalidConfigs {
		t.Run(tc.name, func(t *testing.T) {
			cfg := sdk.NewConfig(tc.config)
			// The schema check runs first in the plugin server, as here.
			err := schema.Check(cfg)
			if err == nil {
				_, err = p.Configure(context.Background(), sdk.DestinationInfo{Name: "acme", Account: "acme"}, cfg)
			}
			if sdk.KindOf(err) != sdk.KindConfiguration || sdk.AttributeOf(err) != tc.attr {
				t.Fatalf("got %v (kind %v, attribute %q), want a configuration error of %s", err, sdk.KindOf(err), sdk.AttributeOf(err), tc.attr)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %q does not say %q", err, tc.says)
			}
		})
	}
}

func TestUnknownProfile(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	if err := os.WriteFile(cfgFile, []byte("[profile platform]\nregion = eu-west-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	if _, err := (&Plugin{}).Configure(context.Background(), sdk.DestinationInfo{Name: "acme", Account: "acme"}, sdk.NewConfig(baseConfig(map[string]any{"profile": "platform"}))); err != nil {
		t.Fatalf("existing profile: %v", err)
	}
	_, err := (&Plugin{}).Configure(context.Background(), sdk.DestinationInfo{Name: "acme", Account: "acme"}, sdk.NewConfig(baseConfig(map[string]any{"profile": "nope"})))
	if sdk.AttributeOf(err) != "profile" || sdk.KindOf(err) != sdk.KindConfiguration {
		t.Fatalf("unknown profile: %v", err)
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
	for _, a := range allowedACLs {
		if strings.Contains(a, "public") || strings.Contains(a, "authenticated") {
			t.Errorf("ACL %s would expose a customer's dump", a)
		}
	}
	if !slices.Contains(allowedACLs, defaultACL) {
		t.Error("default ACL is not allowed")
	}
}
