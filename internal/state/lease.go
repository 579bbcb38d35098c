package state

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrLeased is returned by Acquire when another job holds the lease.
var ErrLeased = errors.New("destination is leased by another job")

// ErrLeaseLost is reported when a held lease could not be renewed, so
// another job may now hold it.
var ErrLeaseLost = errors.New("destination lease lost")

// LeaseHolder is the value of a lease.
type LeaseHolder struct {
	Owner string    `json:"owner"`
	Job   string    `json:"job"`
	Since time.Time `json:"since"`
}

// Lease is a held lease on one destination. Keep it alive with Keep and
// give it back with Release.
type Lease struct {
	s    *Store
	dest string

	mu   sync.Mutex
	rev  uint64
	lost bool
}

// Acquire takes the lease on dest for a job, or returns ErrLeased (with
// the holder) if another job has it.
func (s *Store) Acquire(ctx context.Context, dest string, h LeaseHolder) (*Lease, error) {
	rev, err := cas(ctx, s.leases, dest, 0, h)
	if conflict(err) {
		var cur LeaseHolder
		if _, ok, gerr := get(ctx, s.leases, dest, &cur); gerr == nil && ok {
			return nil, fmt.Errorf("%w: %s (job %s on %s)", ErrLeased, dest, cur.Job, cur.Owner)
		}
		return nil, fmt.Errorf("%w: %s", ErrLeased, dest)
	}
	if err != nil {
		return nil, fmt.Errorf("acquire lease on %s: %w", dest, err)
	}
	return &Lease{s: s, dest: dest, rev: rev}, nil
}

// Renew extends the lease. It fails with ErrLeaseLost if the lease expired
// and was taken, or vanished.
func (l *Lease) Renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost {
		return ErrLeaseLost
	}
	e, err := l.s.leases.Get(ctx, l.dest)
	if err != nil {
		l.lost = true
		return fmt.Errorf("%w: %s: %v", ErrLeaseLost, l.dest, err)
	}
	rev, err := l.s.leases.Update(ctx, l.dest, e.Value(), l.rev)
	if err != nil {
		if conflict(err) {
			l.lost = true
			return fmt.Errorf("%w: %s", ErrLeaseLost, l.dest)
		}
		return fmt.Errorf("renew lease on %s: %w", l.dest, err)
	}
	l.rev = rev
	return nil
}

// Keep renews the lease every third of its TTL until ctx is done, and
// calls lost if it cannot be kept: the caller must then stop using the
// destination. Transient failures are retried until the TTL would run out.
func (l *Lease) Keep(ctx context.Context, lost func(error)) {
	every := l.s.leaseTTL / 3
	lastOK := time.Now()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, every)
		err := l.Renew(rctx)
		cancel()
		switch {
		case err == nil:
			lastOK = time.Now()
		case errors.Is(err, ErrLeaseLost) || time.Since(lastOK) > l.s.leaseTTL-every:
			if ctx.Err() == nil {
				lost(err)
			}
			return
		}
	}
}

// Release gives the lease back, if it is still ours.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost {
		return nil
	}
	l.lost = true
	err := l.s.leases.Delete(ctx, l.dest, jetstream.LastRevision(l.rev))
	if err != nil && !conflict(err) {
		return fmt.Errorf("release lease on %s: %w", l.dest, err)
	}
	return nil
}
