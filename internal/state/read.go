package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/nats-io/nats.go/jetstream"
)

// Fleet is what the shared state says about many destinations and their
// accounts, for readers such as exportd status. It is read without locks
// or leases: each value is as some moment left it.
type Fleet struct {
	// Destinations holds each destination's record, by name.
	Destinations map[string]Destination
	// Leases holds the lease of each destination being exported to.
	Leases map[string]HeldLease
	// LatestRuns holds each account's latest modelling run.
	LatestRuns map[string]event.ModellingCompleted
	// Reexports holds each account's queued re-exports.
	Reexports map[string]Reexports
}

// HeldLease is a lease as a reader sees it.
type HeldLease struct {
	LeaseHolder
	// Renewed is when the holder last wrote the lease; a holder renews it
	// every sixth of its TTL, so an older one is likely a crashed
	// holder's, left to expire.
	Renewed time.Time
}

// FleetQuery says what ReadFleet reads. A nil list reads a whole bucket,
// once, in one pass; a list (even empty) reads only its keys, one
// request each.
type FleetQuery struct {
	Destinations []string
	Accounts     []string
}

// ReadFleet reads the destinations, leases, latest runs and queued
// re-exports the query names. Its cost is one pass per bucket read whole
// (not a request per key), the four at once; the attempts and completed
// buckets, which grow with every run, are not read.
func (s *Store) ReadFleet(ctx context.Context, q FleetQuery) (Fleet, error) {
	var f Fleet
	var wg sync.WaitGroup
	errs := make([]error, 4)
	read := func(i int, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	read(0, func() (err error) {
		f.Destinations, err = readValues[Destination](ctx, s.destinations, q.Destinations)
		return err
	})
	read(1, func() error {
		entries, err := readEntries(ctx, s.leases, q.Destinations)
		if err != nil {
			return err
		}
		f.Leases = make(map[string]HeldLease, len(entries))
		for k, e := range entries {
			var h LeaseHolder
			if err := json.Unmarshal(e.Value(), &h); err != nil {
				return fmt.Errorf("decode %s/%s: %w", s.leases.Bucket(), k, err)
			}
			f.Leases[k] = HeldLease{LeaseHolder: h, Renewed: e.Created()}
		}
		return nil
	})
	read(2, func() (err error) {
		f.LatestRuns, err = readValues[event.ModellingCompleted](ctx, s.accounts, q.Accounts)
		return err
	})
	read(3, func() (err error) {
		f.Reexports, err = readValues[Reexports](ctx, s.reexports, q.Accounts)
		return err
	})
	wg.Wait()
	return f, errors.Join(errs...)
}

// readValues decodes the JSON values of keys of a bucket (all of them
// when keys is nil).
func readValues[T any](ctx context.Context, kv jetstream.KeyValue, keys []string) (map[string]T, error) {
	entries, err := readEntries(ctx, kv, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]T, len(entries))
	for k, e := range entries {
		var v T
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			return nil, fmt.Errorf("decode %s/%s: %w", kv.Bucket(), k, err)
		}
		out[k] = v
	}
	return out, nil
}

// readEntries reads the current entries of keys of a bucket, or of every
// key when keys is nil: then in one pass of a watcher, which sends the
// values with the keys, rather than a listing followed by a request per
// key.
func readEntries(ctx context.Context, kv jetstream.KeyValue, keys []string) (map[string]jetstream.KeyValueEntry, error) {
	out := map[string]jetstream.KeyValueEntry{}
	if keys != nil {
		for _, k := range keys {
			e, err := kv.Get(ctx, k)
			switch {
			case errors.Is(err, jetstream.ErrKeyNotFound):
			case err != nil:
				return nil, fmt.Errorf("read %s/%s: %w", kv.Bucket(), k, err)
			default:
				out[k] = e
			}
		}
		return out, nil
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", kv.Bucket(), err)
	}
	defer w.Stop()
	for {
		select {
		case e, ok := <-w.Updates():
			switch {
			case !ok:
				return nil, fmt.Errorf("read %s: the watcher stopped", kv.Bucket())
			case e == nil: // every current value has been sent
				return out, nil
			}
			out[e.Key()] = e
		case <-ctx.Done():
			return nil, fmt.Errorf("read %s: %w", kv.Bucket(), ctx.Err())
		}
	}
}

// ErrNoState is returned by Attach when the buckets do not exist: no
// daemon has run against this NATS with this prefix.
var ErrNoState = errors.New("the shared state does not exist")

// Attach returns a store over existing buckets, for readers: unlike Open
// it creates and changes nothing, so that a reader with other settings
// (replicas, TTLs) cannot alter the daemons' buckets.
func Attach(ctx context.Context, js jetstream.JetStream, prefix string) (*Store, error) {
	s := &Store{}
	for _, b := range []struct {
		name string
		kv   *jetstream.KeyValue
	}{
		{"destinations", &s.destinations}, {"completed", &s.completed}, {"leases", &s.leases},
		{"runs", &s.runs}, {"accounts", &s.accounts}, {"attempts", &s.attempts}, {"reexports", &s.reexports},
	} {
		kv, err := js.KeyValue(ctx, prefix+"_"+b.name)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, fmt.Errorf("%w: no KV bucket %s_%s (has a daemon run with kv_prefix %q?)", ErrNoState, prefix, b.name, prefix)
		}
		if err != nil {
			return nil, fmt.Errorf("open KV bucket %s_%s: %w", prefix, b.name, err)
		}
		*b.kv = kv
	}
	return s, nil
}
