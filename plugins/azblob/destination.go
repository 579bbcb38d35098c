package azblob

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// tuning holds what production never changes but tests shorten.
type tuning struct {
	// Backoff between attempts: exponential from baseDelay, capped at
	// maxBackoff, with the SDK's jitter.
	baseDelay  time.Duration
	maxBackoff time.Duration
	// tryTimeout abandons an attempt that has not completed, so that a
	// stalled connection is retried rather than waited on forever.
	tryTimeout time.Duration
}

func defaultTuning() tuning {
	return tuning{baseDelay: 500 * time.Millisecond, maxBackoff: 30 * time.Second, tryTimeout: 15 * time.Minute}
}

// checkBlob is the probe blob Check writes under the folder.
const checkBlob = ".exportd-check"

// destination is one customer's container.
type destination struct {
	info   sdk.DestinationInfo
	s      *settings
	log    *slog.Logger
	layout legacylayout.Layout
	client *container.Client
	// slots bounds the uploads in flight across this destination's exports.
	slots    chan struct{}
	receipts legacylayout.ReceiptGate
}

var _ sdk.Destination = (*destination)(nil)

func newDestination(info sdk.DestinationInfo, s settings, t tuning) (*destination, error) {
	d := &destination{
		info:   info,
		s:      &s,
		log:    info.Logger,
		layout: legacylayout.Layout{Folder: s.Folder, MaxKeyLen: legacylayout.ObjectNameLimit},
		slots:  make(chan struct{}, s.UploadConcurrency),
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 2 * time.Minute
	tr.MaxIdleConnsPerHost = max(tr.MaxIdleConnsPerHost, s.UploadConcurrency)
	retries := s.MaxAttempts - 1
	if retries == 0 {
		retries = -1 // the SDK reads 0 as its default
	}
	opts := azcore.ClientOptions{
		Transport: &http.Client{Transport: tr},
		Retry: policy.RetryOptions{
			MaxRetries:    int32(retries),
			TryTimeout:    t.tryTimeout,
			RetryDelay:    t.baseDelay,
			MaxRetryDelay: t.maxBackoff,
		},
		Telemetry: policy.TelemetryOptions{ApplicationID: "exportd-azblob/" + Version},
	}
	containerURL := s.Endpoint + "/" + s.Container
	var err error
	if s.SAS != nil {
		d.client, err = container.NewClientWithNoCredential(containerURL+"?"+s.SAS.Encode(), &container.ClientOptions{ClientOptions: opts})
	} else {
		cred, cerr := platformIdentity(opts, &s)
		if cerr != nil {
			return nil, cerr
		}
		d.client, err = container.NewClient(containerURL, cred, &container.ClientOptions{ClientOptions: opts})
	}
	if err != nil {
		return nil, sdk.ConfigError("endpoint", fmt.Errorf("create the Blob Storage client for %s: %w", containerURL, err))
	}
	return d, nil
}

// platformIdentity is the platform's own Microsoft Entra identity:
// DefaultAzureCredential (environment, workload identity, managed
// identity, Azure CLI), or with client_id that one user-assigned managed
// identity or workload identity application.
func platformIdentity(opts azcore.ClientOptions, s *settings) (azcore.TokenCredential, error) {
	if s.ClientID == "" {
		cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: opts, TenantID: s.TenantID})
		if err != nil {
			return nil, sdk.PlatformError("", fmt.Errorf("prepare the platform's Microsoft Entra identity: %w", err))
		}
		return cred, nil
	}
	var chain []azcore.TokenCredential
	// Workload identity needs its federated token file; without one it is
	// simply not part of the chain.
	if wi, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: opts, ClientID: s.ClientID, TenantID: s.TenantID,
	}); err == nil {
		chain = append(chain, wi)
	}
	mi, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: opts, ID: azidentity.ClientID(s.ClientID),
	})
	if err != nil {
		return nil, sdk.PlatformError("client_id", fmt.Errorf("prepare the managed identity %s: %w", s.ClientID, err))
	}
	chain = append(chain, mi)
	cred, err := azidentity.NewChainedTokenCredential(chain, nil)
	if err != nil {
		return nil, sdk.ConfigError("client_id", err)
	}
	return cred, nil
}

// blobName is the full blob name of a name under the folder.
func (d *destination) blobName(name string) string {
	if d.s.Folder == "" {
		return name
	}
	return d.s.Folder + "/" + name
}

// Check writes an empty probe blob twice: the first write proves the
// credentials, the container and the right to create blobs (and the
// encryption scope); the second proves the right to replace one, which
// every receipt after the first needs.
func (d *destination) Check(ctx context.Context) (string, error) {
	name := d.blobName(checkBlob)
	for range 2 {
		if err := d.upload(ctx, name, nil, 0, nil, "text/plain"); err != nil {
			return "", err
		}
	}
	as := "the platform's Microsoft Entra identity"
	if q := d.s.SAS; q != nil {
		as = fmt.Sprintf("a SAS token (permissions %q, expires %s)", q.Get("sp"), orUnknown(q.Get("se")))
		if q.Get("sp") == "" {
			as = fmt.Sprintf("a SAS token of stored access policy %q", q.Get("si"))
		}
		extra := strings.Map(func(r rune) rune {
			if r == 'c' || r == 'w' {
				return -1
			}
			return r
		}, q.Get("sp"))
		if extra != "" {
			as += fmt.Sprintf("; the token grants more than needed (%q): issue one with sp=cw", extra)
		}
	}
	return fmt.Sprintf("created and replaced %s/%s/%s as %s", d.s.Endpoint, d.s.Container, name, as), nil
}

func orUnknown(s string) string {
	if s == "" {
		return "never"
	}
	return s
}

// Begin starts an export. The SDK has already checked the export time
// against the previous dump's.
func (d *destination) Begin(ctx context.Context, info sdk.ExportInfo) (sdk.Export, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := d.layout.CheckTables(info.Time, info.Tables); err != nil {
		return nil, sdk.Permanent(err)
	}
	return newExport(d, info), nil
}

// upload stores one block blob with one Put Blob request (retried by the
// SDK, which rewinds the body) carrying the body's MD5, which the service
// verifies, and classifies the failure.
func (d *destination) upload(ctx context.Context, name string, body io.ReaderAt, size int64, md5sum []byte, contentType string) error {
	if body == nil {
		body = bytes.NewReader(nil)
	}
	opts := &blockblob.UploadOptions{
		HTTPHeaders: &blob.HTTPHeaders{BlobContentType: &contentType},
	}
	if md5sum != nil {
		opts.TransactionalValidation = blob.TransferValidationTypeMD5(md5sum)
		opts.HTTPHeaders.BlobContentMD5 = md5sum
	}
	if d.s.EncryptionScope != "" {
		opts.CPKScopeInfo = &blob.CPKScopeInfo{EncryptionScope: &d.s.EncryptionScope}
	}
	rs := streaming.NopCloser(io.NewSectionReader(body, 0, size))
	if _, err := d.client.NewBlockBlobClient(name).Upload(ctx, rs, opts); err != nil {
		return d.classify(ctx, fmt.Sprintf("put blob %s/%s", d.s.Container, name), err)
	}
	return nil
}

// acquire waits for an upload slot of the destination.
func (d *destination) acquire(ctx context.Context) (release func(), err error) {
	select {
	case d.slots <- struct{}{}:
		return func() { <-d.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
