package s3legacy

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	awsretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"

	"github.com/exportd/exportd/sdk/retry"
)

// tuning holds what production never changes but tests shorten.
type tuning struct {
	// sessionDuration is how long an assumed-role session is asked for.
	sessionDuration time.Duration
	// refreshWindow: a session is renewed between (1-refreshJitter) times
	// this and this long before it expires.
	refreshWindow time.Duration
	refreshJitter float64

	// retry gives the backoff between attempts (exponential, longer after
	// throttling, with jitter) and each attempt's deadline (a floor plus
	// the body's size at a minimum throughput: a stalled connection must
	// not hold an export forever). The SDK's retryer counts the attempts.
	retry retry.Policy

	// credentials, when set, replace the assumed role (for S3 stores
	// without STS in tests).
	credentials aws.CredentialsProvider
}

func defaultTuning() tuning {
	return tuning{
		sessionDuration: time.Hour,
		refreshWindow:   10 * time.Minute,
		refreshJitter:   0.5,
		retry: retry.Policy{
			Base: 200 * time.Millisecond, Throttled: time.Second, Max: 20 * time.Second,
			AttemptFloor: 2 * time.Minute, MinThroughput: 256 << 10,
		},
	}
}

// newHTTPClient is the HTTP client of a destination's S3 and STS clients.
func newHTTPClient(s *settings, t tuning) aws.HTTPClient {
	c := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.ResponseHeaderTimeout = 2 * time.Minute
		tr.MaxIdleConnsPerHost = max(tr.MaxIdleConnsPerHost, s.UploadConcurrency)
	})
	return attemptDeadline{next: c, policy: t.retry}
}

// newRetryer retries throttling, 5xx answers and lost connections (the
// SDK's standard rules) plus corrupted transfers, with exponential backoff
// and without the SDK's client-wide retry quota: a dump of many files
// under throttling must not exhaust a shared budget.
func newRetryer(s *settings, t tuning) func() aws.Retryer {
	return func() aws.Retryer {
		return awsretry.NewStandard(func(o *awsretry.StandardOptions) {
			o.MaxAttempts = s.MaxAttempts
			o.RateLimiter = ratelimit.None
			o.Backoff = backoff{t.retry}
			o.Retryables = append(o.Retryables, awsretry.RetryableErrorCode{Codes: map[string]struct{}{
				"BadDigest": {}, "XAmzContentSHA256Mismatch": {}, "IncompleteBody": {}, "InternalError": {}, "OperationAborted": {},
			}})
		})
	}
}

// backoff is the retry policy's delay, as the SDK's retryer asks for it.
type backoff struct{ policy retry.Policy }

var throttles = awsretry.IsErrorThrottles(awsretry.DefaultThrottles)

func (b backoff) BackoffDelay(attempt int, err error) (time.Duration, error) {
	return b.policy.Delay(attempt, throttles.IsErrorThrottle(err).Bool()), nil
}

// attemptDeadline bounds each HTTP attempt so that a stalled connection is
// abandoned and retried rather than waited on forever.
type attemptDeadline struct {
	next   aws.HTTPClient
	policy retry.Policy
}

func (c attemptDeadline) Do(r *http.Request) (*http.Response, error) {
	limit := c.policy.AttemptTimeout(r.ContentLength)
	if limit == 0 {
		return c.next.Do(r)
	}
	ctx, cancel := context.WithTimeout(r.Context(), limit)
	resp, err := c.next.Do(r.WithContext(ctx))
	if err != nil {
		cancel()
		if r.Context().Err() == nil && ctx.Err() != nil {
			// Not wrapped: only the caller's own context may make the
			// failure look like a cancellation.
			err = &attemptTimeoutError{limit: limit, err: err}
		}
		return resp, err
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

// attemptTimeoutError is a network timeout to the SDK's retryer.
type attemptTimeoutError struct {
	limit time.Duration
	err   error
}

func (e *attemptTimeoutError) Error() string {
	return fmt.Sprintf("no complete answer within %v: %v", e.limit, e.err)
}

func (e *attemptTimeoutError) Timeout() bool { return true }

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// object is one PutObject: a key and a body whose bytes are known to match
// sha256.
type object struct {
	key         string
	body        io.ReadSeeker
	size        int64
	sha256      []byte
	contentType string
}

// put stores o with one PutObject (retried by the SDK) and classifies the
// failure. When no region is configured and S3 answers that the bucket
// lives in another region than the one the request was signed for, it
// tries again there, and the first upload to learn the region switches
// the destination to it for good.
//
// Several uploads are in flight at once, so others may already have been
// sent to the old region when one learns the new one: each compares S3's
// answer with the region its own request used, not with the destination's
// current one, so that they all retry rather than report a wrong region.
func (d *destination) put(ctx context.Context, creds aws.CredentialsProvider, o object) error {
	used := d.region()
	err := d.putObject(ctx, creds, o, used)
	if err != nil && d.s.Region == "" && ctx.Err() == nil {
		code := ""
		var api smithy.APIError
		if errors.As(err, &api) {
			code = api.ErrorCode()
		}
		if r := bucketRegion(err); r != "" && r != used && isRegionError(code, err) {
			if d.learnRegion(used, r) {
				d.log.Warn("bucket is in another region; using it from now on (set region to skip this)",
					"bucket", d.s.Bucket, "region", r)
			}
			if _, serr := o.body.Seek(0, io.SeekStart); serr != nil {
				return fmt.Errorf("rewind %s: %w", o.key, serr)
			}
			used = r
			err = d.putObject(ctx, creds, o, used)
		}
	}
	if err != nil {
		return d.classifyPut(ctx, o.key, used, err)
	}
	return nil
}

// putObject sends o with one PutObject signed for region.
func (d *destination) putObject(ctx context.Context, creds aws.CredentialsProvider, o object, region string) error {
	in := &s3.PutObjectInput{
		Bucket:         aws.String(d.s.Bucket),
		Key:            aws.String(o.key),
		Body:           o.body,
		ContentLength:  aws.Int64(o.size),
		ContentType:    aws.String(o.contentType),
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(o.sha256)),
	}
	if d.s.ACL != "" {
		in.ACL = s3types.ObjectCannedACL(d.s.ACL)
	}
	if d.s.KMSKeyARN != "" {
		in.ServerSideEncryption = s3types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(d.s.KMSKeyARN)
	}
	payloadHash := hex.EncodeToString(o.sha256)
	_, err := d.s3.PutObject(ctx, in, func(opts *s3.Options) {
		opts.Credentials = creds
		opts.Region = region
		// The digest was computed while verifying the spool file: sign it
		// as the payload hash rather than read the file a third time. Over
		// TLS this also replaces UNSIGNED-PAYLOAD, so S3 checks the bytes
		// against the signature as well as against the checksum header.
		opts.APIOptions = append(opts.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("exportdPayloadHash",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					return next.HandleInitialize(v4.SetPayloadHash(ctx, payloadHash), in)
				}), middleware.After)
		})
	})
	return err
}

// sdkLogger writes the SDK's retry notices into the plugin's log: each
// retry at info level (throttling is worth seeing), the rest at debug.
type sdkLogger struct{ l *slog.Logger }

func (s sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	switch {
	case c == logging.Warn:
		s.l.Warn(msg)
	case strings.HasPrefix(msg, "retrying"):
		s.l.Info(msg)
	default:
		s.l.Debug(msg)
	}
}
