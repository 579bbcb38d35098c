// Package s3legacy is the AWS S3 Legacy destination: it delivers every dump
// into a customer's own S3 bucket in the layout of package
// sdk/legacylayout, with nothing but the two permissions the customer
// grants to a dedicated role (s3:PutObject and s3:PutObjectAcl).
//
// The platform's own AWS identity (the default credential chain, or a
// named profile) assumes the customer's role with the customer's external
// ID; the session is cached and refreshed before it expires, so a dump may
// outlive it. Each file is one PutObject of a seekable body, sent with the
// ACL header, SSE-KMS headers when configured, and its SHA-256 both as the
// signed payload hash and as the x-amz-checksum-sha256 header, so S3
// stores exactly the bytes the daemon encoded or refuses them. Throttling,
// server errors and lost connections are retried with backoff. The receipt
// is written last, by Commit, once every file of every table is stored.
//
// The plugin never lists, reads, heads or deletes anything: it cannot,
// with the customer's permissions. What it needs to know about earlier
// dumps (the previous export time) the daemon tells it at Begin.
//
// Errors say what the customer or operator must fix and carry a kind: a
// refused AssumeRole, a refused PutObject, a missing bucket or a wrong
// region are configuration errors naming the attribute and the policy at
// fault; throttling, 5xx answers and network failures are retryable.
package s3legacy

import (
	"context"

	"github.com/exportd/exportd/sdk"
)

// Version is the plugin's version, reported in its schema.
const Version = "1.0.0"

// Plugin serves S3 Legacy destinations. The zero value is ready to use.
type Plugin struct {
	// tune adjusts internals in this package's tests (backoff delays,
	// credential refresh windows, static credentials).
	tune func(*tuning)
}

var _ sdk.Plugin = (*Plugin)(nil)

// maxObjectSize is S3's limit for one PutObject, which is how every file
// is sent: the daemon keeps files under it.
const maxObjectSize = 5 << 30

// Schema describes the attributes of an s3legacy destination. The daemon
// consumes account, tables and enabled itself.
func (p *Plugin) Schema() sdk.Schema {
	return sdk.Schema{
		Name:         "s3legacy",
		Version:      Version,
		Attributes:   attributes,
		Capabilities: sdk.Capabilities{MaxObjectSize: maxObjectSize},
	}
}

var attributes = []sdk.Attribute{
	{Name: "bucket", Type: sdk.TypeString, Required: true,
		Description: "Name of the customer's S3 bucket (the name, not its ARN)."},
	{Name: "role_arn", Type: sdk.TypeString, Required: true,
		Description: "ARN of the IAM role in the customer's account that the platform assumes, arn:aws:iam::<account>:role/<name>."},
	{Name: "external_id", Type: sdk.TypeString, OperatorOnly: true,
		Description: "External ID the role's trust policy requires in its sts:ExternalId condition. Unset: the destination's account id on the platform, so that nothing registered for one account can reach a role set up for another."},
	{Name: "folder", Type: sdk.TypeString,
		Description: "Optional key prefix for receipt.json and the dump folders; leading and trailing slashes are dropped."},
	{Name: "region", Type: sdk.TypeString,
		Description: "AWS region of the bucket, e.g. eu-west-1. Unset: the KMS key's region if kms_key_arn is set, otherwise learnt from S3's answer to the first upload."},
	{Name: "kms_key_arn", Type: sdk.TypeString,
		Description: "ARN of a KMS key (or alias) in the bucket's region; every object is then sent with SSE-KMS headers naming it, and the role needs kms:GenerateDataKey and kms:Decrypt on it. Unset: the bucket's default encryption applies."},
	// Public ACLs are deliberately absent: a customer's dump is never made
	// readable by anyone else.
	{Name: "acl", Type: sdk.TypeString, Default: "bucket-owner-full-control",
		Enum:        []string{"bucket-owner-full-control", "bucket-owner-read", "private", "none"},
		Description: `Canned ACL sent with every object; "none" sends no ACL header.`},
	{Name: "session_name", Type: sdk.TypeString,
		Description: "Role session name, shown in the customer's CloudTrail. Unset: exportd-<account>."},
	{Name: "profile", Type: sdk.TypeString, OperatorOnly: true,
		Description: "Shared-config profile holding the platform's own AWS identity. Unset: the default chain (environment, shared config, container or instance role)."},
	{Name: "endpoint", Type: sdk.TypeString, OperatorOnly: true,
		Description: "S3 endpoint URL for S3-compatible stores and tests. Unset: AWS."},
	{Name: "path_style", Type: sdk.TypeBool, Default: false, OperatorOnly: true,
		Description: "Put the bucket name in the URL path rather than the host name (S3-compatible stores)."},
	{Name: "sts_endpoint", Type: sdk.TypeString, OperatorOnly: true,
		Description: "STS endpoint URL used to assume the role. Unset: AWS's regional STS endpoint."},
	{Name: "upload_concurrency", Type: sdk.TypeInteger, Default: 4, Min: sdk.Bound(1), Max: sdk.Bound(64), OperatorOnly: true,
		Description: "Most uploads in flight at once for this destination."},
	{Name: "max_attempts", Type: sdk.TypeInteger, Default: 8, Min: sdk.Bound(1), Max: sdk.Bound(20), OperatorOnly: true,
		Description: "Attempts per request, the first included, before an upload fails. Throttling, 5xx answers and lost connections are retried with exponential backoff."},
	{Name: "manifest", Type: sdk.TypeBool, Default: false,
		Description: "Also write <folder>/<T>/_manifest.json with each dump, after the data files and before the receipt (one more PutObject): every file's key, size, rows and SHA-256, and each table's parquet schema, for loaders that verify a dump."},
}

// Configure validates a destination's configuration and prepares its
// clients. It does no network I/O: Check assumes the role.
func (p *Plugin) Configure(ctx context.Context, info sdk.DestinationInfo, cfg sdk.Config) (sdk.Destination, error) {
	s, err := parseSettings(cfg, info.Account)
	if err != nil {
		return nil, err
	}
	t := defaultTuning()
	if p.tune != nil {
		p.tune(&t)
	}
	return newDestination(ctx, info, s, t)
}
