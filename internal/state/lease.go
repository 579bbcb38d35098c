package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrLeased is returned by Acquire when another job holds the lease.
var ErrLeased = errors.New("destination is leased by another job")

// ErrLeaseLost is reported when a held lease is gone (its key expired, was
// deleted or was taken by another job), or could not be renewed before it
// would expire, so that another job may now hold it.
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

	// renewing lets one renewal at a time talk to NATS; mu guards the
	// fields and is never held while waiting for NATS.
	renewing chan struct{}
	mu       sync.Mutex
	rev      uint64
	value    []byte // the holder, as stored
	lost     bool
	// held is when the lease was last known to be ours: just before the
	// request that created or renewed it was sent. It expires a TTL later.
	held time.Time
}

// Acquire takes the lease on dest for a job, or returns ErrLeased (with
// the holder) if another job has it.
func (s *Store) Acquire(ctx context.Context, dest string, h LeaseHolder) (*Lease, error) {
	sent := time.Now()
	value, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	rev, err := s.leases.Create(ctx, dest, value)
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
	return &Lease{s: s, dest: dest, rev: rev, value: value, held: sent, renewing: make(chan struct{}, 1)}, nil
}

// Renew extends the lease. It fails with ErrLeaseLost only when the lease
// is known to be gone: its key vanished (it expired or was deleted) or
// another job rewrote it. Any other failure (a timeout, a reconnection, a
// JetStream leader election) says nothing about the lease, which is still
// ours until its TTL runs out: the caller may retry.
func (l *Lease) Renew(ctx context.Context) error {
	select {
	case l.renewing <- struct{}{}:
		defer func() { <-l.renewing }()
	case <-ctx.Done():
		return fmt.Errorf("renew lease on %s: %w", l.dest, ctx.Err())
	}
	l.mu.Lock()
	lost, rev := l.lost, l.rev
	l.mu.Unlock()
	if lost {
		return ErrLeaseLost
	}
	// The lease is rewritten as it was stored, on condition that it is
	// still at the revision this holder last wrote: no read first.
	sent := time.Now()
	rev, err := l.s.leases.Update(ctx, l.dest, l.value, rev)
	if conflict(err) {
		// A renewal that timed out may have taken effect after all (sent
		// once NATS was back): the lease then still holds this holder,
		// at a later revision.
		var e jetstream.KeyValueEntry
		switch e, err = l.s.leases.Get(ctx, l.dest); {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			return l.lose("the lease expired or was deleted")
		case err != nil:
			return fmt.Errorf("renew lease on %s: read it: %w", l.dest, err)
		case !bytes.Equal(e.Value(), l.value):
			return l.lose("another job took it")
		}
		rev, err = l.s.leases.Update(ctx, l.dest, l.value, e.Revision())
		if conflict(err) {
			return l.lose("another job took it")
		}
	}
	if err != nil {
		return fmt.Errorf("renew lease on %s: %w", l.dest, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost { // given up meanwhile: it stays given up
		return ErrLeaseLost
	}
	l.rev, l.held = rev, sent
	return nil
}

func (l *Lease) lose(why string) error {
	l.mu.Lock()
	l.lost = true
	l.mu.Unlock()
	return fmt.Errorf("%w: %s: %s", ErrLeaseLost, l.dest, why)
}

// margin is how long before its TTL runs out a lease that could not be
// renewed is given up: time for the holder to stop before another job may
// take it.
func (l *Lease) margin() time.Duration { return min(l.s.leaseTTL/6, 5*time.Second) }

// deadline is when the lease must be given up unless renewed before.
func (l *Lease) deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held.Add(l.s.leaseTTL - l.margin())
}

// Hold renews the lease now, retrying failures that say nothing about the
// lease for as long as it is certainly still ours. It returns nil once
// renewed, or ErrLeaseLost. Call it before an irreversible step, such as
// making a dump visible, that only the holder may take.
func (l *Lease) Hold(ctx context.Context) error {
	wait := 50 * time.Millisecond
	for {
		deadline := l.deadline()
		rctx, cancel := context.WithDeadline(ctx, deadline)
		err := l.Renew(rctx)
		cancel()
		switch {
		case err == nil || errors.Is(err, ErrLeaseLost):
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		case !time.Now().Add(wait).Before(deadline):
			l.giveUp()
			return fmt.Errorf("%w: %s: not renewed in time: %v", ErrLeaseLost, l.dest, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

func (l *Lease) giveUp() {
	l.mu.Lock()
	l.lost = true
	l.mu.Unlock()
}

// Keep renews the lease every sixth of its TTL until ctx is done, and
// calls lost once the lease is gone or could not be renewed before it
// would expire: the caller must then stop using the destination. Renewals
// that fail for other reasons (NATS unreachable for a while) are retried
// until then, so that an outage of up to about two thirds of the TTL
// costs nothing.
func (l *Lease) Keep(ctx context.Context, lost func(error)) {
	every := l.s.leaseTTL / 6
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		if err := l.Hold(ctx); err != nil {
			if ctx.Err() == nil {
				lost(err)
			}
			return
		}
	}
}

// Release gives the lease back, if it is still ours.
func (l *Lease) Release(ctx context.Context) error {
	select {
	case l.renewing <- struct{}{}:
		defer func() { <-l.renewing }()
	case <-ctx.Done():
		return fmt.Errorf("release lease on %s: %w", l.dest, ctx.Err())
	}
	l.mu.Lock()
	lost, rev := l.lost, l.rev
	l.lost = true
	l.mu.Unlock()
	if lost {
		return nil
	}
	err := l.s.leases.Delete(ctx, l.dest, jetstream.LastRevision(rev))
	if err != nil && !conflict(err) {
		return fmt.Errorf("release lease on %s: %w", l.dest, err)
	}
	return nil
}
