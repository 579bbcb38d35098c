// Package gcs is the Google Cloud Storage destination: it delivers every
// dump into a customer's own bucket in the layout of package
// sdk/legacylayout, with no more than the customer grants a service
// account of theirs: storage.objects.create on the bucket, and
// storage.objects.delete on the one object it replaces, receipt.json.
//
// The platform's own Google identity (Application Default Credentials, or
// a credentials file) impersonates the customer's service account through
// the IAM Credentials API, or writes as itself when no service account is
// configured. Each file is one single-request upload carrying its CRC32C
// and MD5, which Cloud Storage checks before it stores the object; data
// files are created only if absent, so a retry after a lost answer cannot
// replace anything. Throttling (429), server errors and lost connections
// are retried with backoff. The receipt is written last, by Commit, once
// every file of every table is stored.
//
// The plugin never lists, reads or deletes anything. What it needs to know
// about earlier dumps (the previous export time) the daemon tells it.
package gcs

import (
	"context"

	"github.com/exportd/exportd/sdk"
)

// Version is the plugin's version, reported in its schema.
const Version = "1.0.0"

// Plugin serves Google Cloud Storage destinations. The zero value is ready
// to use.
type Plugin struct {
	// tune adjusts internals in this package's tests (backoff delays).
	tune func(*tuning)
}

var _ sdk.Plugin = (*Plugin)(nil)

// maxObjectSize is what the plugin sends in one request. Cloud Storage
// takes objects up to 5 TiB; a single-request upload this large is
// already unwise, and the daemon keeps files under it.
const maxObjectSize = 5 << 30

// Schema describes the attributes of a gcs destination. Check writes a
// probe object when a KMS key is configured.
func (p *Plugin) Schema() sdk.Schema {
	return sdk.Schema{
		Name:         "gcs",
		Version:      Version,
		Attributes:   attributes,
		Capabilities: sdk.Capabilities{MaxObjectSize: maxObjectSize, CheckWrites: true},
	}
}

var attributes = []sdk.Attribute{
	{Name: "bucket", Type: sdk.TypeString, Required: true,
		Description: "Name of the customer's Cloud Storage bucket (the name, not a gs:// URL)."},
	{Name: "folder", Type: sdk.TypeString,
		Description: "Optional object name prefix for receipt.json and the dump folders; leading and trailing slashes are dropped."},
	{Name: "impersonate_service_account", Type: sdk.TypeString,
		Description: "Email of the customer's service account that the platform impersonates; the platform's identity needs roles/iam.serviceAccountTokenCreator on it. Unset: the platform writes as its own identity."},
	{Name: "credentials_file", Type: sdk.TypeString, Sensitive: true, OperatorOnly: true,
		Description: "Path of a credentials JSON file (service account key or workload identity federation configuration) holding the platform's own identity. Unset: Application Default Credentials."},
	{Name: "kms_key_name", Type: sdk.TypeString,
		Description: "Customer-managed encryption key for every object, projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>; the bucket's Cloud Storage service agent needs roles/cloudkms.cryptoKeyEncrypterDecrypter on it. Unset: the bucket's default encryption."},
	{Name: "endpoint", Type: sdk.TypeString, OperatorOnly: true,
		Description: "Cloud Storage JSON API base URL, for private endpoints and tests. Unset: Google's public endpoint."},
	{Name: "iam_credentials_endpoint", Type: sdk.TypeString, OperatorOnly: true,
		Description: "IAM Credentials API base URL used to impersonate the service account, for private endpoints and tests. Unset: Google's public endpoint."},
	{Name: "upload_concurrency", Type: sdk.TypeInteger, Default: 4, Min: sdk.Bound(1), Max: sdk.Bound(64), OperatorOnly: true,
		Description: "Most uploads in flight at once for this destination."},
	{Name: "max_attempts", Type: sdk.TypeInteger, Default: 8, Min: sdk.Bound(1), Max: sdk.Bound(20), OperatorOnly: true,
		Description: "Attempts per upload, the first included. Throttling (429), 5xx answers and lost connections are retried with exponential backoff."},
	{Name: "manifest", Type: sdk.TypeBool, Default: false,
		Description: "Also write <folder>/<T>/_manifest.json with each dump (one more create-only upload), after the data files and before the receipt: every file's key, size, rows and SHA-256, and each table's parquet schema, for loaders that verify a dump."},
}

// Configure validates a destination's configuration and prepares its
// client. It reads the credentials file but makes no request: Check does.
func (p *Plugin) Configure(ctx context.Context, info sdk.DestinationInfo, cfg sdk.Config) (sdk.Destination, error) {
	s, err := parseSettings(cfg)
	if err != nil {
		return nil, err
	}
	t := defaultTuning()
	if p.tune != nil {
		p.tune(&t)
	}
	return newDestination(ctx, info, s, t)
}
