package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// History remembers, per destination, the exports that failed for good
// since its last committed dump, so that the next commit can be told as a
// recovery. It lives in a JetStream KV bucket of its own, shared by every
// replica: a destination that failed on one daemon and recovers on
// another is still reported, exactly once.
type History struct {
	kv jetstream.KeyValue
}

// historyTTL forgets a destination whose last failure is this old. A
// destination that keeps failing renews its key with every failure.
const historyTTL = 30 * 24 * time.Hour

// failing is the value kept for a destination while it fails.
type failing struct {
	Since    time.Time `json:"since"`
	Failures int       `json:"failures"`
	Last     time.Time `json:"last"`
}

// OpenHistory creates or updates, idempotently, the bucket
// <prefix>_notify and returns the history kept in it.
func OpenHistory(ctx context.Context, js jetstream.JetStream, prefix string, replicas int) (*History, error) {
	name := prefix + "_notify"
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      name,
		Description: "exportd: destinations failing since their last committed dump, for recovery notifications",
		TTL:         historyTTL,
		Replicas:    max(replicas, 1),
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("create or update KV bucket %s: %w", name, err)
	}
	return &History{kv: kv}, nil
}

// Failed records that an export of the destination failed for good at t.
func (h *History) Failed(ctx context.Context, destination string, t time.Time) error {
	for attempt := 0; ; attempt++ {
		var f failing
		rev, err := h.get(ctx, destination, &f)
		if err != nil {
			return err
		}
		if f.Since.IsZero() {
			f.Since = t.UTC()
		}
		f.Failures++
		f.Last = t.UTC()
		b, _ := json.Marshal(f)
		if rev == 0 {
			_, err = h.kv.Create(ctx, destination, b)
		} else {
			_, err = h.kv.Update(ctx, destination, b, rev)
		}
		if err == nil {
			return nil
		}
		if !conflict(err) || attempt >= 20 {
			return fmt.Errorf("record a failure of %s: %w", destination, err)
		}
	}
}

// Committed records a committed dump of the destination. When exports of
// it had failed for good since its last commit, it returns when the first
// did and how many, and recovered is true; of several replicas committing
// at once, only one is told.
func (h *History) Committed(ctx context.Context, destination string) (since time.Time, failures int, recovered bool, err error) {
	for attempt := 0; ; attempt++ {
		var f failing
		rev, err := h.get(ctx, destination, &f)
		if err != nil || rev == 0 {
			return time.Time{}, 0, false, err
		}
		err = h.kv.Delete(ctx, destination, jetstream.LastRevision(rev))
		if err == nil {
			return f.Since, f.Failures, true, nil
		}
		if !conflict(err) || attempt >= 20 {
			return time.Time{}, 0, false, fmt.Errorf("record a recovery of %s: %w", destination, err)
		}
	}
}

// get reads a destination's record into f; rev is 0 when there is none.
func (h *History) get(ctx context.Context, destination string, f *failing) (uint64, error) {
	e, err := h.kv.Get(ctx, destination)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the failure history of %s: %w", destination, err)
	}
	if err := json.Unmarshal(e.Value(), f); err != nil {
		// A record that cannot be read is replaced, not fatal.
		*f = failing{}
	}
	return e.Revision(), nil
}

func conflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) ||
		(errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence)
}
