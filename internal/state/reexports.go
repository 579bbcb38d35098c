package state

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// PendingReexport is a re-export job that was queued and has not started.
type PendingReexport struct {
	JobID        string    `json:"job_id"`
	RunID        string    `json:"run_id"`
	Destinations []string  `json:"destinations"`
	Tables       []string  `json:"tables,omitempty"`
	RequestedAt  time.Time `json:"requested_at"`
	// Queued is set once the job's message is in the event stream.
	Queued bool `json:"queued"`
}

// Reexports is what the daemons know about an account's re-exports.
type Reexports struct {
	Pending []PendingReexport `json:"pending,omitempty"`
	// Recent holds when the jobs of the rate limit's window were queued.
	Recent []time.Time `json:"recent,omitempty"`
}

// RateLimit bounds how many new re-export jobs an account may queue in a
// window of time. Requests that join a pending job do not count. A zero
// Jobs means no limit.
type RateLimit struct {
	Jobs   int
	Window time.Duration
}

// ErrRateLimited is returned by QueueReexport when the account used up its
// rate limit.
var ErrRateLimited = errors.New("re-export rate limit reached")

// Pending jobs are forgotten when they never reached the stream (the
// daemon that queued them died in between) or when the stream must have
// lost them.
const (
	unqueuedExpiry = time.Minute
	pendingExpiry  = 24 * time.Hour
)

// QueueReexport decides, in one compare-and-set on the account's record,
// what becomes of a re-export request: it joins a pending job that covers
// it (returned with true), or fresh is recorded as a new pending job
// (returned with false), or it is refused with ErrRateLimited.
func (s *Store) QueueReexport(ctx context.Context, account string, fresh PendingReexport, covers func(PendingReexport) bool, limit RateLimit, now time.Time) (PendingReexport, bool, error) {
	var job PendingReexport
	var joined bool
	_, err := update(ctx, s.reexports, account, func(r *Reexports, _ bool) (bool, error) {
		r.prune(now, limit.Window)
		for _, p := range r.Pending {
			if covers(p) {
				job, joined = p, true
				return false, nil
			}
		}
		if limit.Jobs > 0 && len(r.Recent) >= limit.Jobs {
			return false, fmt.Errorf("%w: account %s queued %d re-exports in the last %v; the next is possible from %s",
				ErrRateLimited, account, len(r.Recent), limit.Window, r.Recent[0].Add(limit.Window).UTC().Format(time.RFC3339))
		}
		job, joined = fresh, false
		r.Pending = append(r.Pending, fresh)
		r.Recent = append(r.Recent, fresh.RequestedAt)
		return true, nil
	})
	if err != nil {
		return PendingReexport{}, false, err
	}
	return job, joined, nil
}

// prune forgets expired pending jobs and queue times outside the window.
func (r *Reexports) prune(now time.Time, window time.Duration) {
	r.Pending = slices.DeleteFunc(r.Pending, func(p PendingReexport) bool {
		age := now.Sub(p.RequestedAt)
		return age > pendingExpiry || (!p.Queued && age > unqueuedExpiry)
	})
	r.Recent = slices.DeleteFunc(r.Recent, func(t time.Time) bool { return now.Sub(t) >= window })
}

// MarkReexportQueued records that a pending job's message is in the stream.
func (s *Store) MarkReexportQueued(ctx context.Context, account, jobID string) error {
	return s.changePending(ctx, account, jobID, func(r *Reexports, i int) { r.Pending[i].Queued = true })
}

// ReexportStarted forgets a pending job as it starts: later requests must
// not join a job that has already read its data.
func (s *Store) ReexportStarted(ctx context.Context, account, jobID string) error {
	return s.changePending(ctx, account, jobID, func(r *Reexports, i int) { r.Pending = slices.Delete(r.Pending, i, i+1) })
}

// ReexportNotQueued forgets a pending job whose message could not be
// queued, and gives its place in the rate limit back.
func (s *Store) ReexportNotQueued(ctx context.Context, account, jobID string) error {
	return s.changePending(ctx, account, jobID, func(r *Reexports, i int) {
		if j := slices.IndexFunc(r.Recent, r.Pending[i].RequestedAt.Equal); j >= 0 {
			r.Recent = slices.Delete(r.Recent, j, j+1)
		}
		r.Pending = slices.Delete(r.Pending, i, i+1)
	})
}

func (s *Store) changePending(ctx context.Context, account, jobID string, change func(r *Reexports, i int)) error {
	_, err := update(ctx, s.reexports, account, func(r *Reexports, _ bool) (bool, error) {
		i := slices.IndexFunc(r.Pending, func(p PendingReexport) bool { return p.JobID == jobID })
		if i < 0 {
			return false, nil
		}
		change(r, i)
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("update the pending re-exports of %s: %w", account, err)
	}
	return nil
}
