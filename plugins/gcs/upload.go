package gcs

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/retry"
)

// tuning holds what production never changes but tests shorten.
type tuning struct {
	// retry gives the backoff between attempts (exponential, longer after
	// a 429, with jitter) and each attempt's deadline (a floor plus the
	// body's size at a minimum throughput: a stalled connection must not
	// hold an export forever). Its attempts come from max_attempts.
	retry retry.Policy
}

func defaultTuning() tuning {
	return tuning{retry: retry.Policy{
		Base: 200 * time.Millisecond, Throttled: time.Second, Max: 20 * time.Second,
		AttemptFloor: 2 * time.Minute, MinThroughput: 256 << 10,
	}}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// object is one upload: a name and a body whose checksums are known.
type object struct {
	name        string
	body        io.ReaderAt
	size        int64
	crc32c      uint32
	md5         []byte
	contentType string
	// createOnly makes the upload fail if the object exists, so that a
	// retry never replaces anything (and needs no delete permission).
	createOnly bool
}

// upload stores o with one request per attempt, retrying what a later
// attempt can cure. A create-only upload that finds its object present
// after an earlier attempt of its own got no answer has succeeded:
// Cloud Storage stores an object whole and checksum-verified, or not at all.
func (d *destination) upload(ctx context.Context, o object) error {
	what := fmt.Sprintf("upload gs://%s/%s", d.s.Bucket, o.name)
	policy := d.t.retry
	policy.Attempts = d.s.MaxAttempts
	policy.IsThrottle = func(err error) bool { return errors.Is(err, errThrottled) }
	policy.OnRetry = func(attempt int, wait time.Duration, err error) {
		d.log.Info("retrying upload", "object", o.name, "attempt", attempt, "delay", wait, "error", err)
	}
	return policy.Do(ctx, o.size, func(ctx context.Context, attempt int) error {
		err := d.uploadOnce(ctx, o)
		switch {
		case err == nil:
			return nil
		case o.createOnly && attempt > 1 && httpCode(err) == http.StatusPreconditionFailed:
			d.log.Info("object already stored by an earlier attempt whose answer was lost", "object", o.name)
			return nil
		case httpCode(err) == http.StatusTooManyRequests:
			return fmt.Errorf("%w: %w", errThrottled, d.classify(ctx, what, err))
		}
		return d.classify(ctx, what, err)
	})
}

// errThrottled marks an attempt Cloud Storage refused with a 429.
var errThrottled = errors.New("throttled")

func (d *destination) uploadOnce(ctx context.Context, o object) error {
	h := d.bucket.Object(o.name).Retryer(storage.WithPolicy(storage.RetryNever))
	if o.createOnly {
		h = h.If(storage.Conditions{DoesNotExist: true})
	}
	w := h.NewWriter(ctx)
	w.ChunkSize = 0 // one request, no resumable session
	w.ContentType = o.contentType
	w.CRC32C = o.crc32c
	w.SendCRC32C = true
	w.MD5 = o.md5
	w.KMSKeyName = d.s.KMSKeyName
	_, err := io.Copy(w, io.NewSectionReader(o.body, 0, o.size))
	if err != nil {
		w.CloseWithError(err)
		return err
	}
	return w.Close()
}

func httpCode(err error) int {
	var g *googleapi.Error
	if errors.As(err, &g) {
		return g.Code
	}
	return 0
}

// classify turns a failed request into an error whose kind tells the
// daemon what to do and whose message tells the customer or operator what
// to fix.
func (d *destination) classify(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	if terr := d.classifyToken(err); terr != nil {
		return terr
	}
	var g *googleapi.Error
	if !errors.As(err, &g) {
		// Lost connections, timeouts, a body cut short.
		return sdk.Retryable(fmt.Errorf("%s: %w", what, err))
	}
	msg := strings.ToLower(g.Message + " " + g.Body)
	s := d.s
	switch {
	case g.Code == http.StatusUnauthorized:
		return sdk.ConfigError(s.identityAttr(), fmt.Errorf("%s: Cloud Storage did not accept the credentials of %s: %w", what, d.writer, err))
	case (g.Code == http.StatusForbidden || g.Code == http.StatusBadRequest) && s.KMSKeyName != "" && strings.Contains(msg, "kms"):
		return sdk.ConfigError("kms_key_name", fmt.Errorf(
			"Cloud Storage cannot encrypt with %s: the key must exist in the bucket's location and the bucket project's Cloud Storage service agent needs roles/cloudkms.cryptoKeyEncrypterDecrypter on it: %w",
			s.KMSKeyName, err))
	case g.Code == http.StatusForbidden && strings.Contains(msg, "storage.objects.delete"):
		return sdk.ConfigError(s.writerAttr(), fmt.Errorf(
			"%s may create objects but not replace %s: the customer must grant it storage.objects.delete on that one object (an IAM condition on its name), as the setup guide shows: %w",
			d.writer, d.layout.ReceiptKey(), err))
	case g.Code == http.StatusForbidden:
		return sdk.ConfigError(s.writerAttr(), fmt.Errorf(
			"%s may not create objects in bucket %s: the customer must grant it roles/storage.objectCreator on the bucket: %w", d.writer, s.Bucket, err))
	case g.Code == http.StatusNotFound:
		return sdk.ConfigError("bucket", fmt.Errorf("bucket %s does not exist: check its name: %w", s.Bucket, err))
	case g.Code == http.StatusBadRequest && (strings.Contains(msg, "crc32c") || strings.Contains(msg, "md5")):
		// The bytes were verified before sending: they changed on the way.
		return sdk.Retryable(fmt.Errorf("%s: checksum mismatch in transit: %w", what, err))
	case g.Code == http.StatusPreconditionFailed:
		return sdk.Permanent(fmt.Errorf("%s: the object already exists; no two dumps share a minute folder, so something else writes there: %w", what, err))
	case g.Code == http.StatusTooManyRequests || g.Code == http.StatusRequestTimeout || g.Code >= 500:
		return sdk.Retryable(fmt.Errorf("%s: %w", what, err))
	}
	return sdk.Permanent(fmt.Errorf("%s: %w", what, err))
}
