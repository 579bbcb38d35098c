// Package azblob is the Azure Blob Storage destination: it delivers every
// dump into a container of a customer's storage account in the layout of
// package sdk/legacylayout, with no more than the right to create and
// write blobs in that container.
//
// The platform authenticates either with a container SAS token the
// customer issues with the create and write permissions only, or as its
// own Microsoft Entra identity (a service principal or a managed identity,
// found by azidentity's DefaultAzureCredential) to which the customer
// assigned a role that allows writing blobs. Each file is one Put Blob
// request whose Content-MD5 the service verifies before it stores the
// block blob. Throttling, server errors and lost connections are retried
// with backoff. The receipt is written last, by Commit, once every file of
// every table is stored.
//
// The plugin never lists, reads or deletes anything. What it needs to know
// about earlier dumps (the previous export time) the daemon tells it.
package azblob

import (
	"context"

	"github.com/exportd/exportd/sdk"
)

// Version is the plugin's version, reported in its schema.
const Version = "1.0.0"

// Plugin serves Azure Blob Storage destinations. The zero value is ready
// to use.
type Plugin struct {
	// tune adjusts internals in this package's tests (backoff delays).
	tune func(*tuning)
}

var _ sdk.Plugin = (*Plugin)(nil)

// maxObjectSize is what one Put Blob takes (5000 MiB): the daemon keeps
// files under it.
const maxObjectSize = 5000 << 20

// Schema describes the attributes of an azblob destination. Check writes
// a probe blob.
func (p *Plugin) Schema() sdk.Schema {
	return sdk.Schema{
		Name:         "azblob",
		Version:      Version,
		Attributes:   attributes,
		Capabilities: sdk.Capabilities{MaxObjectSize: maxObjectSize, CheckWrites: true},
	}
}

var attributes = []sdk.Attribute{
	{Name: "storage_account", Type: sdk.TypeString, Required: true,
		Description: "Name of the customer's storage account (3 to 24 lower-case letters and digits)."},
	{Name: "container", Type: sdk.TypeString, Required: true,
		Description: "Name of the blob container the dumps go into."},
	{Name: "folder", Type: sdk.TypeString,
		Description: "Optional blob name prefix for receipt.json and the dump folders; leading and trailing slashes are dropped."},
	{Name: "sas_token", Type: sdk.TypeString, Sensitive: true,
		Description: "A SAS token for the container with the create and write permissions (sp=cw) and nothing else. Unset: the platform's own Microsoft Entra identity (DefaultAzureCredential) with a role on the container."},
	{Name: "tenant_id", Type: sdk.TypeString,
		Description: "The customer's Microsoft Entra tenant, in which the platform's multi-tenant service principal authenticates. Unset: the identity's own tenant. Not used with sas_token."},
	{Name: "client_id", Type: sdk.TypeString, OperatorOnly: true,
		Description: "Client ID of the platform's user-assigned managed identity or application. Unset: AZURE_CLIENT_ID, or the system-assigned identity. Not used with sas_token."},
	{Name: "encryption_scope", Type: sdk.TypeString,
		Description: "Encryption scope of the storage account (for example one backed by the customer's Key Vault key) every blob is written with. Unset: the container's default."},
	{Name: "endpoint", Type: sdk.TypeString, OperatorOnly: true,
		Description: "Blob service URL, for other clouds, private endpoints and tests. Unset: https://<storage_account>.blob.core.windows.net."},
	{Name: "upload_concurrency", Type: sdk.TypeInteger, Default: 4, Min: sdk.Bound(1), Max: sdk.Bound(64), OperatorOnly: true,
		Description: "Most uploads in flight at once for this destination."},
	{Name: "max_attempts", Type: sdk.TypeInteger, Default: 8, Min: sdk.Bound(1), Max: sdk.Bound(20), OperatorOnly: true,
		Description: "Attempts per request, the first included. Throttling, 5xx answers and lost connections are retried with exponential backoff."},
	{Name: "manifest", Type: sdk.TypeBool, Default: false,
		Description: "Also write <folder>/<T>/_manifest.json with each dump (one more Put Blob), after the data files and before the receipt: every file's key, size, rows and SHA-256, and each table's parquet schema, for loaders that verify a dump."},
}

// Configure validates a destination's configuration and prepares its
// client. It makes no request: Check does.
func (p *Plugin) Configure(_ context.Context, info sdk.DestinationInfo, cfg sdk.Config) (sdk.Destination, error) {
	s, err := parseSettings(cfg)
	if err != nil {
		return nil, err
	}
	t := defaultTuning()
	if p.tune != nil {
		p.tune(&t)
	}
	return newDestination(info, s, t)
}
