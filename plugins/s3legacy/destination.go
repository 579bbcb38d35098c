package s3legacy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// fallbackRegion is where requests go while the bucket's region is
// unknown; S3 answers from there with the bucket's actual region.
const fallbackRegion = "us-east-1"

// destination is one customer's bucket.
type destination struct {
	info     sdk.DestinationInfo
	s        *settings
	log      *slog.Logger
	layout   legacylayout.Layout
	s3       *s3.Client
	sessions *roleSessions
	// slots bounds the uploads in flight across this destination's exports.
	slots chan struct{}

	regionMu      sync.RWMutex
	currentRegion string

	// receipts keeps the bucket's receipt from going back in time.
	receipts legacylayout.ReceiptGate
}

var _ sdk.Destination = (*destination)(nil)

func newDestination(ctx context.Context, info sdk.DestinationInfo, s settings, t tuning) (*destination, error) {
	var opts []func(*config.LoadOptions) error
	if s.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(s.Profile))
	}
	// Reading the environment and shared files only; no request is made.
	base, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		attr := ""
		if s.Profile != "" {
			attr = "profile"
		}
		return nil, sdk.PlatformError(attr, fmt.Errorf("load the platform's own AWS configuration: %w", err))
	}
	d := &destination{
		info:          info,
		s:             &s,
		log:           info.Logger,
		layout:        legacylayout.Layout{Folder: s.Folder, MaxKeyLen: legacylayout.ObjectNameLimit},
		slots:         make(chan struct{}, s.UploadConcurrency),
		currentRegion: s.Region,
	}
	if d.currentRegion == "" {
		d.currentRegion = fallbackRegion
	}
	httpClient := newHTTPClient(d.s, t)
	retryer := newRetryer(d.s, t)
	sdkLog := sdkLogger{d.log}

	stsRegion := s.Region
	if stsRegion == "" {
		stsRegion = base.Region // the platform's own region, if it has one
	}
	if stsRegion == "" {
		stsRegion = fallbackRegion
	}
	if base.Credentials != nil {
		base.Credentials = platformCredentials{base.Credentials}
	}
	stsClient := sts.NewFromConfig(base, func(o *sts.Options) {
		o.Region = stsRegion
		if s.STSEndpoint != "" {
			o.BaseEndpoint = aws.String(s.STSEndpoint)
		}
		o.HTTPClient = httpClient
		o.Retryer = retryer()
		o.Logger = sdkLog
		o.ClientLogMode = aws.LogRetries
	})
	d.sessions = newRoleSessions(d.s, stsClient, t)

	d.s3 = s3.NewFromConfig(base, func(o *s3.Options) {
		o.Region = d.currentRegion
		// Every call names the role session's credentials; the platform's
		// own identity must never reach the customer's bucket.
		o.Credentials = noCredentials{}
		if s.Endpoint != "" {
			o.BaseEndpoint = aws.String(s.Endpoint)
		}
		o.UsePathStyle = s.PathStyle
		o.HTTPClient = httpClient
		o.Retryer = retryer()
		o.Logger = sdkLog
		o.ClientLogMode = aws.LogRetries
	})
	return d, nil
}

// noCredentials fails any S3 call made without the role's credentials.
type noCredentials struct{}

func (noCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errors.New("s3legacy: S3 call without the role session's credentials")
}

func (d *destination) region() string {
	d.regionMu.RLock()
	defer d.regionMu.RUnlock()
	return d.currentRegion
}

// learnRegion switches the destination from region from to region to,
// unless another upload already switched it, and reports whether this
// call did.
func (d *destination) learnRegion(from, to string) bool {
	d.regionMu.Lock()
	defer d.regionMu.Unlock()
	if d.currentRegion != from {
		return false
	}
	d.currentRegion = to
	return true
}

// Check assumes the role afresh, which proves the platform's identity, the
// trust policy and the external ID. The role may only write, so the
// bucket itself is first proven by an export.
func (d *destination) Check(ctx context.Context) (string, error) {
	session := d.s.roleSessionName(d.info.Account)
	out, err := d.sessions.assume(ctx, session)
	if err != nil {
		return "", err
	}
	assumed := d.s.RoleARN
	if out.AssumedRoleUser != nil {
		assumed = aws.ToString(out.AssumedRoleUser.Arn)
	}
	expires := "unknown"
	if out.Credentials != nil {
		expires = aws.ToTime(out.Credentials.Expiration).UTC().Format(time.RFC3339)
	}
	where := "s3://" + d.s.Bucket + "/"
	if d.s.Folder != "" {
		where += d.s.Folder + "/"
	}
	return fmt.Sprintf("assumed %s with external ID %q as %s (session %s, valid until %s); the role may only put objects, so writing to %s is proven by the first export",
		assumed, d.s.ExternalID, d.sessions.platformPrincipal(ctx), session, expires, where), nil
}

// Begin starts an export after making sure the role can be assumed, so
// that a broken trust policy fails the export once, here, instead of in
// every Put. The SDK has checked the export's time against the previous
// dump's and its table list; the table names must make valid keys.
func (d *destination) Begin(ctx context.Context, info sdk.ExportInfo) (sdk.Export, error) {
	if err := d.layout.CheckTables(info.Time, info.Tables); err != nil {
		return nil, sdk.Permanent(err)
	}
	session := d.s.roleSessionName(info.Account)
	if _, err := d.sessions.retrieve(ctx, session); err != nil {
		return nil, err
	}
	return newExport(d, info, session), nil
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
