package state

import (
	"context"
	"fmt"
	"time"

	"github.com/exportd/exportd/internal/event"
)

func runKey(account, runID string) string { return account + "." + runID }

// Newer reports whether run a completed after run b. Runs completed at the
// same instant are ordered by id, so that every replica agrees.
func Newer(a, b event.ModellingCompleted) bool {
	if !a.CompletedAt.Equal(b.CompletedAt) {
		return a.CompletedAt.After(b.CompletedAt)
	}
	return a.RunID > b.RunID
}

// RecordRun remembers an event and returns the account's latest run,
// which is ev itself unless a newer run was recorded before. A recorded
// latest run that completed after notAfter (a run dated in the future,
// recorded before such events were refused) is replaced rather than
// allowed to supersede every later run.
func (s *Store) RecordRun(ctx context.Context, ev event.ModellingCompleted, notAfter time.Time) (event.ModellingCompleted, error) {
	// The run is new, as a rule: it is created without a read, and at
	// the same time as the account's record is updated.
	recorded := make(chan error, 1)
	go func() {
		_, _, err := updateGuess(ctx, s.runs, runKey(ev.AccountID, ev.RunID), absent, func(v *event.ModellingCompleted, exists bool) (bool, error) {
			*v = ev
			return !exists, nil
		})
		recorded <- err
	}()
	latest, err := update(ctx, s.accounts, ev.AccountID, func(v *event.ModellingCompleted, exists bool) (bool, error) {
		if exists && !Newer(ev, *v) && !v.CompletedAt.After(notAfter) {
			return false, nil
		}
		*v = ev
		return true, nil
	})
	if rerr := <-recorded; rerr != nil {
		return ev, fmt.Errorf("record run %s: %w", ev.RunID, rerr)
	}
	if err != nil {
		return ev, fmt.Errorf("record the latest run of %s: %w", ev.AccountID, err)
	}
	return latest, nil
}

// LatestRun returns an account's latest recorded run.
func (s *Store) LatestRun(ctx context.Context, account string) (event.ModellingCompleted, bool, error) {
	var ev event.ModellingCompleted
	_, ok, err := get(ctx, s.accounts, account, &ev)
	return ev, ok, err
}

// Run returns a recorded run of an account.
func (s *Store) Run(ctx context.Context, account, runID string) (event.ModellingCompleted, bool, error) {
	var ev event.ModellingCompleted
	_, ok, err := get(ctx, s.runs, runKey(account, runID), &ev)
	return ev, ok, err
}
