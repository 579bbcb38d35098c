package gcs

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"

	"github.com/exportd/exportd/sdk"
)

// tuning holds what production never changes but tests shorten.
type tuning struct {
	// Backoff between attempts: exponential from baseDelay (throttleDelay
	// after a 429), capped at maxBackoff, with jitter.
	baseDelay     time.Duration
	throttleDelay time.Duration
	maxBackoff    time.Duration

	// An attempt that has not completed after attemptFloor plus its body
	// size at minThroughput is abandoned and retried: a stalled connection
	// must not hold an export forever.
	attemptFloor  time.Duration
	minThroughput int64 // bytes per second
}

func defaultTuning() tuning {
	return tuning{
		baseDelay:     200 * time.Millisecond,
		throttleDelay: time.Second,
		maxBackoff:    20 * time.Second,
		attemptFloor:  2 * time.Minute,
		minThroughput: 256 << 10,
	}
}

// maxObjectSize is what the plugin sends in one request. Cloud Storage
// takes objects up to 5 TiB; a single-request upload this large is
// already unwise, and the daemon's files are far smaller.
const maxObjectSize = 5 << 30

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
	for attempt := 1; ; attempt++ {
		err := d.uploadOnce(ctx, o)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
		if o.createOnly && attempt > 1 && httpCode(err) == http.StatusPreconditionFailed {
			d.log.Info("object already stored by an earlier attempt whose answer was lost", "object", o.name)
			return nil
		}
		kerr := d.classify(ctx, what, err)
		if sdk.KindOf(kerr) != sdk.KindRetryable || attempt >= d.s.MaxAttempts {
			if attempt > 1 {
				return fmt.Errorf("after %d attempts: %w", attempt, kerr)
			}
			return kerr
		}
		delay := d.backoff(attempt, httpCode(err) == http.StatusTooManyRequests)
		d.log.Info("retrying upload", "object", o.name, "attempt", attempt, "delay", delay, "error", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(delay):
		}
	}
}

func (d *destination) uploadOnce(ctx context.Context, o object) error {
	limit := d.t.attemptFloor
	if d.t.minThroughput > 0 {
		limit += time.Duration(o.size/d.t.minThroughput) * time.Second
	}
	actx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	h := d.bucket.Object(o.name).Retryer(storage.WithPolicy(storage.RetryNever))
	if o.createOnly {
		h = h.If(storage.Conditions{DoesNotExist: true})
	}
	w := h.NewWriter(actx)
	w.ChunkSize = 0 // one request, no resumable session
	w.ContentType = o.contentType
	w.CRC32C = o.crc32c
	w.SendCRC32C = true
	w.MD5 = o.md5
	w.KMSKeyName = d.s.KMSKeyName
	_, err := io.Copy(w, io.NewSectionReader(o.body, 0, o.size))
	if err != nil {
		w.CloseWithError(err)
	} else {
		err = w.Close()
	}
	if err != nil && ctx.Err() == nil && actx.Err() != nil {
		return fmt.Errorf("%w within %v: %v", errNoAnswer, limit, err)
	}
	return err
}

// backoff waits between half and all of base·2^(attempt-1), capped.
func (d *destination) backoff(attempt int, throttled bool) time.Duration {
	delay := d.t.baseDelay
	if throttled {
		delay = d.t.throttleDelay
	}
	for i := 1; i < attempt && delay < d.t.maxBackoff; i++ {
		delay *= 2
	}
	delay = min(delay, d.t.maxBackoff)
	if delay <= 1 {
		return delay
	}
	return delay/2 + rand.N(delay/2)
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
