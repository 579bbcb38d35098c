// Package state keeps the job engine's shared state in JetStream KV
// buckets, so that it survives restarts and is the same for every replica:
//
//   - destinations: per destination, the last committed dump (export time,
//     run, receipt) and the latest export time ever reserved;
//   - completed: the (destination, run) pairs already delivered, so that a
//     redelivered event does not dump twice;
//   - leases: per destination, which job may export to it right now;
//   - runs and accounts: the events seen, and each account's latest run,
//     for "latest wins" and re-exports;
//   - attempts: per (destination, run or re-export), the attempts started
//     and the last one's error, against jobs.max_deliver;
//   - reexports: per account, the re-exports queued and not started yet
//     (which later requests join) and when recent ones were queued (the
//     rate limit).
//
// Every read-modify-write is a compare-and-set on the key's revision.
// Every read and write rides out transient failures (a bucket electing a
// leader, NATS reconnecting) for a bounded time (RetryBound) before it
// fails; a lost compare-and-set is never retried blindly. Reads ask the
// bucket's leader, so that they see every acknowledged write.
package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/exportd/exportd/internal/jsretry"
	"github.com/nats-io/nats.go/jetstream"
)

// Options configure the buckets.
type Options struct {
	// Prefix starts every bucket name.
	Prefix   string
	Replicas int
	// LeaseTTL is how long a lease lives without renewal.
	LeaseTTL time.Duration
	// History is how long completed pairs and run events are kept.
	History time.Duration
	// RetryFor bounds how long a read or write is retried through
	// transient failures (see RetryBound); zero: 30 seconds.
	RetryFor time.Duration
	// Logger receives start-up progress and the reads and writes that
	// succeeded only after a retry.
	Logger *slog.Logger
}

// Store is the shared state. It is safe for concurrent use.
type Store struct {
	destinations jetstream.KeyValue
	completed    jetstream.KeyValue
	leases       jetstream.KeyValue
	runs         jetstream.KeyValue
	accounts     jetstream.KeyValue
	attempts     jetstream.KeyValue
	reexports    jetstream.KeyValue
	leaseTTL     time.Duration
	retry        *retrier
	// records guesses the destination records for the next writes.
	records known
}

// Open creates or updates the buckets, idempotently, and returns the store.
// While JetStream cannot serve yet (a cluster forming, or electing the
// leaders of buckets that other replicas are creating at the same moment)
// it retries until ctx ends, which bounds the start-up.
func Open(ctx context.Context, js jetstream.JetStream, o Options) (*Store, error) {
	if o.History == 0 {
		o.History = 30 * 24 * time.Hour
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	s := &Store{leaseTTL: o.LeaseTTL, retry: newRetrier(o.RetryFor, o.Logger)}
	read := newLeaderReader(js)
	bucket := func(name, desc string, ttl time.Duration) (jetstream.KeyValue, error) {
		full := o.Prefix + "_" + name
		var kv jetstream.KeyValue
		err := jsretry.Startup(ctx, o.Logger, "KV bucket "+full, func(ctx context.Context) error {
			var err error
			kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
				Bucket:      full,
				Description: desc,
				TTL:         ttl,
				Replicas:    o.Replicas,
				Storage:     jetstream.FileStorage,
			})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("create or update KV bucket %s: %w", full, err)
		}
		return retryingKV{KeyValue: kv, r: s.retry, read: read}, nil
	}
	var err error
	if s.destinations, err = bucket("destinations", "exportd: last committed dump per destination", 0); err != nil {
		return nil, err
	}
	if s.completed, err = bucket("completed", "exportd: (destination, run) pairs delivered", o.History); err != nil {
		return nil, err
	}
	if s.leases, err = bucket("leases", "exportd: which job exports to a destination", o.LeaseTTL); err != nil {
		return nil, err
	}
	if s.runs, err = bucket("runs", "exportd: modelling runs seen", o.History); err != nil {
		return nil, err
	}
	if s.accounts, err = bucket("accounts", "exportd: latest modelling run per account", 0); err != nil {
		return nil, err
	}
	if s.attempts, err = bucket("attempts", "exportd: attempts per (destination, run)", o.History); err != nil {
		return nil, err
	}
	if s.reexports, err = bucket("reexports", "exportd: queued re-exports and their rate per account", o.History); err != nil {
		return nil, err
	}
	return s, nil
}

// get decodes a key's JSON value; ok is false when the key is absent.
func get(ctx context.Context, kv jetstream.KeyValue, key string, v any) (rev uint64, ok bool, err error) {
	g, ok, err := getGuess(ctx, kv, key, v)
	return g.rev, ok, err
}

// getGuess decodes a key's JSON value and returns it as read, for a later
// write to start from.
func getGuess(ctx context.Context, kv jetstream.KeyValue, key string, v any) (guess, bool, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return guess{}, false, nil
	}
	if err != nil {
		return guess{}, false, fmt.Errorf("read %s/%s: %w", kv.Bucket(), key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return guess{}, false, fmt.Errorf("decode %s/%s: %w", kv.Bucket(), key, err)
	}
	return guess{rev: e.Revision(), raw: e.Value()}, true, nil
}

// cas stores v under key if the key is still at rev (0: still absent).
func cas(ctx context.Context, kv jetstream.KeyValue, key string, rev uint64, v any) (uint64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	if rev == 0 {
		return kv.Create(ctx, key, b)
	}
	return kv.Update(ctx, key, b, rev)
}

// conflict reports whether err is a lost compare-and-set, however the KV
// client reports it (a replicated bucket answers with a code of its own).
func conflict(err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) && (api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		return true
	}
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// update runs a compare-and-set loop on key: fn sees the current value
// (zero if absent) and changes it; it returns false to leave it alone.
func update[T any](ctx context.Context, kv jetstream.KeyValue, key string, fn func(v *T, exists bool) (bool, error)) (T, error) {
	v, _, err := updateGuess(ctx, kv, key, nil, fn)
	return v, err
}

// guess is what a key is believed to hold: its revision (0: absent) and
// value. A write that starts from a guess needs no read first; a wrong
// guess costs one failed compare-and-set. An export's writes to its
// destination's record (reserve, commit intent, commit) each start from
// the record as the one before left it, and a first attempt's counter
// from nothing, which halves the round trips to NATS of a small export.
type guess struct {
	rev uint64
	raw []byte
}

// absent guesses that a key does not exist yet.
var absent = &guess{}

// updateGuess is update starting from g when g is not nil. Only a write
// is trusted to a guess: when fn decides, on the guessed value, not to
// write or fails, it decides again on the value as read. It returns the
// value and what the key holds now, as far as it knows.
func updateGuess[T any](ctx context.Context, kv jetstream.KeyValue, key string, g *guess, fn func(v *T, exists bool) (bool, error)) (T, guess, error) {
	for attempt := 0; ; attempt++ {
		var v T
		var cur guess
		var ok, guessed bool
		if g != nil {
			cur, ok, guessed = *g, g.rev != 0, true
			if ok && json.Unmarshal(g.raw, &v) != nil {
				v, guessed = *new(T), false
			}
			g = nil
		}
		if !guessed {
			var err error
			if cur, ok, err = getGuess(ctx, kv, key, &v); err != nil {
				return v, guess{}, err
			}
		}
		change, err := fn(&v, ok)
		if guessed && (err != nil || !change) {
			attempt--
			continue
		}
		if err != nil || !change {
			return v, cur, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return v, guess{}, err
		}
		var rev uint64
		if cur.rev == 0 {
			rev, err = kv.Create(ctx, key, b)
		} else {
			rev, err = kv.Update(ctx, key, b, cur.rev)
		}
		if err == nil {
			return v, guess{rev: rev, raw: b}, nil
		}
		if guessed && conflict(err) {
			attempt--
			continue
		}
		if !conflict(err) || attempt > 50 {
			return v, guess{}, fmt.Errorf("write %s/%s: %w", kv.Bucket(), key, err)
		}
		select {
		case <-ctx.Done():
			return v, guess{}, ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
}

// known remembers the records of the destinations this process exports
// to as it last read or wrote them, as guesses for its next writes. It is
// bounded: a forgotten record only costs a read.
type known struct {
	mu sync.Mutex
	m  map[string]guess
}

const maxKnown = 1024

func (k *known) get(name string) *guess {
	k.mu.Lock()
	defer k.mu.Unlock()
	if g, ok := k.m[name]; ok {
		return &g
	}
	return nil
}

func (k *known) set(name string, g guess, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err != nil || g.rev == 0 {
		delete(k.m, name)
		return
	}
	if k.m == nil {
		k.m = map[string]guess{}
	}
	if _, ok := k.m[name]; !ok && len(k.m) >= maxKnown {
		for other := range k.m {
			delete(k.m, other)
			break
		}
	}
	k.m[name] = g
}

func (k *known) forget(name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, name)
}
