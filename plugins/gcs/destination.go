package gcs

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"cloud.google.com/go/storage"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// permCreate is the one permission the plugin needs on the bucket.
const permCreate = "storage.objects.create"

// destination is one customer's bucket.
type destination struct {
	info   sdk.DestinationInfo
	s      *settings
	t      tuning
	log    *slog.Logger
	layout legacylayout.Layout
	// principal names the identity that writes, for messages: the
	// impersonated service account or the platform's own identity.
	principal string
	writer    string
	tokens    oauth2.TokenSource
	bucket    *storage.BucketHandle
	// slots bounds the uploads in flight across this destination's exports.
	slots    chan struct{}
	receipts legacylayout.ReceiptGate
}

var _ sdk.Destination = (*destination)(nil)

func newDestination(ctx context.Context, info sdk.DestinationInfo, s settings, t tuning) (*destination, error) {
	base, principal, err := platformCredentials(ctx, &s)
	if err != nil {
		return nil, err
	}
	d := &destination{
		info:      info,
		s:         &s,
		t:         t,
		log:       info.Logger,
		layout:    legacylayout.Layout{Folder: s.Folder, MaxKeyLen: legacylayout.ObjectNameLimit},
		principal: principal,
		writer:    principal,
		slots:     make(chan struct{}, s.UploadConcurrency),
	}
	transport := newTransport(&s)
	d.tokens = oauth2.ReuseTokenSourceWithExpiry(nil, base, 5*time.Minute)
	if s.ServiceAccount != "" {
		d.tokens = impersonatedSource(&s, d.tokens, transport)
		d.writer = s.ServiceAccount
	}
	opts := []option.ClientOption{
		option.WithHTTPClient(&http.Client{Transport: &oauth2.Transport{Source: d.tokens, Base: transport}}),
	}
	if s.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(s.Endpoint+"/storage/v1/"))
	}
	client, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, sdk.ConfigError("endpoint", fmt.Errorf("create the Cloud Storage client: %w", err))
	}
	d.bucket = client.Bucket(s.Bucket)
	return d, nil
}

func newTransport(s *settings) http.RoundTripper {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 2 * time.Minute
	tr.MaxIdleConnsPerHost = max(tr.MaxIdleConnsPerHost, s.UploadConcurrency)
	return tr
}

// Check proves what can be proven without writing a data file: the
// platform's credentials, the impersonation grant, that the bucket exists
// and that the writing identity holds storage.objects.create on it
// (testIamPermissions, which needs no permission of its own). With a KMS
// key it also creates one empty probe object with that key, since only a
// write shows whether Cloud Storage may use the key.
func (d *destination) Check(ctx context.Context) (string, error) {
	if _, err := d.tokens.Token(); err != nil {
		return "", d.classify(ctx, "get a token", err)
	}
	held, err := d.bucket.IAM().TestPermissions(ctx, []string{permCreate})
	if err != nil {
		return "", d.classify(ctx, "test permissions on gs://"+d.s.Bucket, err)
	}
	if !slices.Contains(held, permCreate) {
		return "", sdk.ConfigError(d.s.writerAttr(), fmt.Errorf(
			"%s may not create objects in bucket %s: the customer must grant it roles/storage.objectCreator on the bucket", d.writer, d.s.Bucket))
	}
	verdict := fmt.Sprintf("%s holds %s on gs://%s", d.writer, permCreate, d.s.Bucket)
	if d.s.ServiceAccount != "" {
		verdict = fmt.Sprintf("%s impersonates %s, which holds %s on gs://%s", d.principal, d.writer, permCreate, d.s.Bucket)
	}
	if d.s.KMSKeyName != "" {
		name, err := d.probeKMS(ctx)
		if err != nil {
			return "", err
		}
		verdict += fmt.Sprintf("; Cloud Storage encrypted the probe object %s with %s", name, d.s.KMSKeyName)
	}
	return verdict + "; replacing receipt.json (storage.objects.delete on that one object) is proven by the second dump", nil
}

// probeKMS creates an empty object under the folder with the KMS key.
// Each check writes a new name: replacing one would need delete.
func (d *destination) probeKMS(ctx context.Context) (string, error) {
	name := ".exportd-check/" + time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z")
	if d.s.Folder != "" {
		name = d.s.Folder + "/" + name
	}
	err := d.upload(ctx, object{name: name, body: bytes.NewReader(nil), contentType: "text/plain", createOnly: true})
	if err != nil {
		return "", err
	}
	return name, nil
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

// acquire waits for an upload slot of the destination.
func (d *destination) acquire(ctx context.Context) (release func(), err error) {
	select {
	case d.slots <- struct{}{}:
		return func() { <-d.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
