package state

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/exportd/exportd/internal/jsretry"
	"github.com/nats-io/nats.go/jetstream"
)

// RetryBound is how long a read or write of the shared state is retried
// through transient failures (a KV bucket electing a leader, NATS
// reconnecting to another node): half the shorter of the lease TTL and
// the ack wait. A JetStream election takes 4 to 9 seconds plus the time to
// notice the leader is gone, which the defaults (a minute, two minutes:
// 30 s) cover several times over. Half the lease TTL keeps a write made
// under a lease well inside the time the lease is certainly held, even if
// its last renewal was just before the election; half the ack wait keeps a
// job from retrying past the moment its event could be handed to another
// replica, whose job would then wait for the lease instead of working.
func RetryBound(leaseTTL, ackWait time.Duration) time.Duration {
	switch {
	case leaseTTL <= 0 && ackWait <= 0:
		return defaultRetryFor
	case leaseTTL <= 0:
		return ackWait / 2
	case ackWait <= 0:
		return leaseTTL / 2
	}
	return min(leaseTTL, ackWait) / 2
}

const defaultRetryFor = 30 * time.Second

// RetryCounts says how often reads and writes of the shared state met
// transient failures since the store was opened.
type RetryCounts struct {
	// Retried counts operations that were answered (a value, a missing
	// key, a conflict) after more than one attempt.
	Retried int64
	// Recovered counts writes whose answer was lost and that were found
	// to have taken effect.
	Recovered int64
	// GaveUp counts operations that still failed when the bound ran out.
	GaveUp int64
}

// retrier retries the KV operations of one store.
type retrier struct {
	policy jsretry.Policy
	log    *slog.Logger

	retried, recovered, gaveUp atomic.Int64
}

func newRetrier(bound time.Duration, log *slog.Logger) *retrier {
	if bound <= 0 {
		bound = defaultRetryFor
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &retrier{log: log, policy: jsretry.Policy{
		For: bound,
		// A request lost with the leader is sent again to the next one
		// rather than waited for.
		Attempt:   min(max(bound/6, time.Second), 5*time.Second),
		Retryable: jsretry.Transient,
		FirstWait: 50 * time.Millisecond,
		MaxWait:   time.Second,
	}}
}

// do runs one KV operation with retries and counts how it went.
func (r *retrier) do(ctx context.Context, op, bucket, key string, f func(ctx context.Context) error) error {
	res, err := jsretry.Do(ctx, r.policy, f)
	switch {
	case res.Attempts == 1 || ctx.Err() != nil:
	case jsretry.Transient(err):
		r.gaveUp.Add(1)
	default: // an answer (a value, a missing key, a conflict) after all
		r.retried.Add(1)
		r.log.Info("shared state: answered after a transient failure", "op", op, "bucket", bucket, "key", key,
			"attempts", res.Attempts, "took", res.Took.Round(time.Millisecond), "error", res.First)
	}
	return err
}

func (r *retrier) counts() RetryCounts {
	return RetryCounts{Retried: r.retried.Load(), Recovered: r.recovered.Load(), GaveUp: r.gaveUp.Load()}
}

// Retries says how often reads and writes met transient failures.
func (s *Store) Retries() RetryCounts { return s.retry.counts() }

// retryingKV is a bucket whose reads and writes ride out transient
// failures within the store's bound, and whose reads ask the leader. A
// write whose answer was lost and that then meets a revision conflict is
// read back: if the key holds exactly what was written, the write took
// effect and is reported so, rather than as a conflict with itself. Other
// methods go to the bucket unchanged.
type retryingKV struct {
	jetstream.KeyValue
	r    *retrier
	read leaderReader
}

var _ jetstream.KeyValue = retryingKV{}

// Get reads a key from the bucket's leader.
func (b retryingKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	var e jetstream.KeyValueEntry
	err := b.r.do(ctx, "get", b.Bucket(), key, func(ctx context.Context) error {
		var err error
		e, err = b.read.get(ctx, b.Bucket(), key)
		return err
	})
	return e, err
}

// Put writes a key whatever its revision. Writing it again after a lost
// answer writes the same value once more.
func (b retryingKV) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	var rev uint64
	err := b.r.do(ctx, "put", b.Bucket(), key, func(ctx context.Context) error {
		var err error
		rev, err = b.KeyValue.Put(ctx, key, value)
		return err
	})
	return rev, err
}

// PutString writes a string value.
func (b retryingKV) PutString(ctx context.Context, key, value string) (uint64, error) {
	return b.Put(ctx, key, []byte(value))
}

// Create writes a key that must be absent, or deleted. The KV client
// finds a deletion's marker, which a create must name, with a read that
// any replica may answer and that can miss a deletion just made (a lease
// released a moment before): a create it refuses is checked against the
// leader.
func (b retryingKV) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	return b.compareAndSet(ctx, "create", key, value, func(ctx context.Context) (uint64, error) {
		rev, err := b.KeyValue.Create(ctx, key, value, opts...)
		if !conflict(err) {
			return rev, err
		}
		e, gerr := b.read.latest(ctx, b.Bucket(), key)
		switch {
		case gerr != nil && jsretry.Transient(gerr):
			return 0, gerr
		case gerr != nil || e.op == jetstream.KeyValuePut:
			return rev, err
		}
		return b.KeyValue.Update(ctx, key, value, e.rev)
	})
}

// Update writes a key that must still be at revision.
func (b retryingKV) Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error) {
	return b.compareAndSet(ctx, "update", key, value, func(ctx context.Context) (uint64, error) {
		return b.KeyValue.Update(ctx, key, value, revision)
	})
}

// compareAndSet retries a conditional write. A conflict after an attempt
// whose answer was lost may be the lost attempt itself: then the key holds
// value, and its revision is returned.
//
// Two writers storing byte-identical values from the same revision would
// both be told they won; the store's values name their writer (a lease
// holder's job) or their instant, or are equal for a reason (a run
// recorded twice), so that this does not arise where it would matter.
func (b retryingKV) compareAndSet(ctx context.Context, op, key string, value []byte, write func(ctx context.Context) (uint64, error)) (uint64, error) {
	var rev uint64
	lost := false
	err := b.r.do(ctx, op, b.Bucket(), key, func(ctx context.Context) error {
		var err error
		rev, err = write(ctx)
		if lost && conflict(err) {
			e, gerr := b.read.get(ctx, b.Bucket(), key)
			switch {
			case gerr == nil && bytes.Equal(e.Value(), value):
				b.r.recovered.Add(1)
				rev, err = e.Revision(), nil
			case jsretry.Transient(gerr):
				err = gerr // look again
			}
		}
		lost = lost || jsretry.Ambiguous(err)
		return err
	})
	return rev, err
}

// Delete removes a key. A conditional delete whose answer was lost and
// that then meets a conflict is done if the key is gone.
func (b retryingKV) Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	lost := false
	return b.r.do(ctx, "delete", b.Bucket(), key, func(ctx context.Context) error {
		err := b.KeyValue.Delete(ctx, key, opts...)
		if lost && conflict(err) {
			_, gerr := b.read.get(ctx, b.Bucket(), key)
			switch {
			case errors.Is(gerr, jetstream.ErrKeyNotFound):
				b.r.recovered.Add(1)
				err = nil
			case jsretry.Transient(gerr):
				err = gerr // look again
			}
		}
		lost = lost || jsretry.Ambiguous(err)
		return err
	})
}
