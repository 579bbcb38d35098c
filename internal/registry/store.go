package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// BucketSuffix ends the registry bucket's name: <kv_prefix>_registry. The
// job state's buckets share the prefix (<kv_prefix>_destinations holds
// export times and receipts, not registrations).
const BucketSuffix = "_registry"

// ErrNotFound is returned for a name the registry does not hold.
var ErrNotFound = errors.New("destination is not registered")

// ErrRevisionMismatch is returned when a write expected another revision
// of the record than the bucket holds: someone else wrote it meanwhile.
var ErrRevisionMismatch = errors.New("the registered destination has another revision")

// Store is the registry bucket. It is safe for concurrent use.
type Store struct {
	kv jetstream.KeyValue
}

// Open creates or updates the registry bucket and returns the store. The
// bucket keeps one revision per key, so that a replaced or deleted
// destination's sealed secrets do not linger in its history.
func Open(ctx context.Context, js jetstream.JetStream, prefix string, replicas int) (*Store, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      prefix + BucketSuffix,
		Description: "exportd: destinations registered at run time",
		History:     1,
		Replicas:    max(replicas, 1),
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("create or update KV bucket %s%s: %w", prefix, BucketSuffix, err)
	}
	return &Store{kv: kv}, nil
}

// Bucket is the bucket's name.
func (s *Store) Bucket() string { return s.kv.Bucket() }

// Get returns a registered destination.
func (s *Store) Get(ctx context.Context, name string) (Entry, error) {
	e, err := s.kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Entry{}, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("read %s/%s: %w", s.kv.Bucket(), name, err)
	}
	return decodeEntry(e)
}

// Put stores a record. With expect nil it replaces whatever is there;
// with *expect zero the name must not be registered yet; otherwise the
// record must still be at revision *expect (ErrRevisionMismatch). It
// returns the new revision.
func (s *Store) Put(ctx context.Context, r Record, expect *uint64) (uint64, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	var rev uint64
	switch {
	case expect == nil:
		rev, err = s.kv.Put(ctx, r.Name, b)
	case *expect == 0:
		rev, err = s.kv.Create(ctx, r.Name, b)
	default:
		rev, err = s.kv.Update(ctx, r.Name, b, *expect)
	}
	if conflict(err) {
		return 0, fmt.Errorf("%w: %s", ErrRevisionMismatch, r.Name)
	}
	if err != nil {
		return 0, fmt.Errorf("write %s/%s: %w", s.kv.Bucket(), r.Name, err)
	}
	return rev, nil
}

// Delete removes a registered destination, with its history. With expect
// set, the record must still be at that revision.
func (s *Store) Delete(ctx context.Context, name string, expect *uint64) error {
	cur, err := s.kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return fmt.Errorf("read %s/%s: %w", s.kv.Bucket(), name, err)
	}
	rev := cur.Revision()
	if expect != nil && *expect != rev {
		return fmt.Errorf("%w: %s is at revision %d, not %d", ErrRevisionMismatch, name, rev, *expect)
	}
	err = s.kv.Purge(ctx, name, jetstream.LastRevision(rev))
	if conflict(err) {
		return fmt.Errorf("%w: %s", ErrRevisionMismatch, name)
	}
	if err != nil {
		return fmt.Errorf("delete %s/%s: %w", s.kv.Bucket(), name, err)
	}
	return nil
}

// List returns every registered destination, sorted by name. It reads
// the bucket in one pass, however many there are.
func (s *Store) List(ctx context.Context) ([]Entry, error) {
	w, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s.kv.Bucket(), err)
	}
	defer w.Stop()
	var out []Entry
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("list %s: watcher stopped", s.kv.Bucket())
			}
			if e == nil {
				slices.SortFunc(out, func(a, b Entry) int { return compareStrings(a.Name, b.Name) })
				return out, nil
			}
			en, err := decodeEntry(e)
			if err != nil {
				return nil, err
			}
			out = append(out, en)
		}
	}
}

// Change is one change to the registry: a destination registered or
// replaced (Entry set), or removed (Removed).
type Change struct {
	Name    string
	Entry   Entry
	Removed bool
	// Err is set when the bucket holds something that is not a record.
	Err error
}

// Watch calls apply for every registered destination, then calls ready
// once, then calls apply for every later change, until ctx is done. It
// returns ctx's error, or the watcher's if it could not start.
func (s *Store) Watch(ctx context.Context, apply func(Change), ready func()) error {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch %s: %w", s.kv.Bucket(), err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("watch %s: watcher stopped", s.kv.Bucket())
			}
			if e == nil {
				if ready != nil {
					ready()
					ready = nil
				}
				continue
			}
			apply(changeOf(e))
		}
	}
}

func changeOf(e jetstream.KeyValueEntry) Change {
	if op := e.Operation(); op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge {
		return Change{Name: e.Key(), Removed: true}
	}
	en, err := decodeEntry(e)
	return Change{Name: e.Key(), Entry: en, Err: err}
}

func decodeEntry(e jetstream.KeyValueEntry) (Entry, error) {
	var r Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return Entry{}, fmt.Errorf("decode registered destination %s: %w", e.Key(), err)
	}
	if r.Name != e.Key() {
		return Entry{}, fmt.Errorf("registered destination under %s names itself %q", e.Key(), r.Name)
	}
	return Entry{Record: r, Revision: e.Revision()}, nil
}

func conflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// Bind returns the registry bucket if it exists, without creating it;
// ok is false when nothing was ever registered.
func Bind(ctx context.Context, js jetstream.JetStream, prefix string) (s *Store, ok bool, err error) {
	kv, err := js.KeyValue(ctx, prefix+BucketSuffix)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("open KV bucket %s%s: %w", prefix, BucketSuffix, err)
	}
	return &Store{kv: kv}, true, nil
}
