package registry

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Reseal seals again, with the keyring's current key, every sensitive
// value of the registry sealed with another key, so that an old key can be
// removed from the key file once nothing needs it. Each record is
// rewritten only if it did not change meanwhile (several replicas may
// reseal at once: one wins, the others find nothing to do). It returns
// how many records it rewrote.
func Reseal(ctx context.Context, s *Store, keys *Keyring) (int, error) {
	if keys == nil {
		return 0, nil
	}
	entries, err := s.List(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, e := range entries {
		changed, err := resealRecord(&e.Record, keys)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !changed {
			continue
		}
		e.UpdatedAt = time.Now().UTC()
		rev := e.Revision
		_, err = s.Put(ctx, e.Record, &rev)
		switch {
		case errors.Is(err, ErrRevisionMismatch):
			// Written meanwhile, sealed with the current key.
		case err != nil:
			errs = append(errs, err)
		default:
			n++
		}
	}
	return n, errors.Join(errs...)
}

// resealRecord reseals r's values sealed with another key than the
// current one, and reports whether there were any.
func resealRecord(r *Record, keys *Keyring) (bool, error) {
	changed := false
	for attr, s := range r.Sealed {
		if s.Key == keys.Current() {
			continue
		}
		v, err := keys.Open(r.Name, attr, s)
		if err != nil {
			return false, fmt.Errorf("reseal %s: %w", r.Name, err)
		}
		if r.Sealed[attr], err = keys.Seal(r.Name, attr, v); err != nil {
			return false, fmt.Errorf("reseal %s: %w", r.Name, err)
		}
		changed = true
	}
	return changed, nil
}
