package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names of a webhook request. Receivers read them to check a
// request and to de-duplicate retries.
const (
	// HeaderID names the notification; retries of one notification carry
	// the same id, so a receiver that saw it already can ignore the copy.
	HeaderID = "Exportd-Id"
	// HeaderEvent is the notification's event: failed, committed or
	// recovered.
	HeaderEvent = "Exportd-Event"
	// HeaderTimestamp is when this attempt was sent, in Unix seconds. It
	// is part of the signed text, so a captured request cannot be replayed
	// later than the receiver's tolerance.
	HeaderTimestamp = "Exportd-Timestamp"
	// HeaderSignature is "v1=" and the hex HMAC-SHA256, keyed with the
	// notifier's secret, of the timestamp, a full stop and the body.
	HeaderSignature = "Exportd-Signature"
)

// Errors returned by Verify.
var (
	// ErrNoSignature means the request carries no v1 signature.
	ErrNoSignature = errors.New("no v1 signature")
	// ErrBadSignature means no signature matches the body and timestamp.
	ErrBadSignature = errors.New("signature does not match")
	// ErrStale means the timestamp is outside the receiver's tolerance.
	ErrStale = errors.New("timestamp outside tolerance")
)

// Sign returns the value of the signature header for a body sent at ts.
func Sign(secret []byte, ts time.Time, body []byte) string {
	return "v1=" + hex.EncodeToString(mac(secret, strconv.FormatInt(ts.Unix(), 10), body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a received request as a receiver should: the timestamp
// header is within tolerance of now, and one of the comma-separated v1
// signatures is the HMAC of that timestamp and the body, compared in
// constant time.
func Verify(secret, body []byte, timestamp, signature string, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(strings.TrimSpace(timestamp), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not Unix seconds", ErrStale, timestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: sent %v from now", ErrStale, d.Round(time.Second))
	}
	want := mac(secret, strconv.FormatInt(sec, 10), body)
	found := false
	for _, part := range strings.Split(signature, ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(part), "v1=")
		if !ok {
			continue
		}
		found = true
		got, err := hex.DecodeString(v)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	if !found {
		return ErrNoSignature
	}
	return ErrBadSignature
}
