package state

import (
	"context"
	"fmt"
	"time"
)

// Attempts counts the attempts at one export (a run, or a re-export job)
// to one destination. JetStream's own delivery count cannot serve: it also
// counts deliveries that were not attempts at all (waiting for another
// job's lease) or that ended for a reason outside the export (the daemon
// stopping), which must not use up an event's attempts.
//
// An attempt is counted when it starts, so that one that crashed the
// daemon counts too; the engine takes the count back when the attempt was
// interrupted by a shutdown.
type Attempts struct {
	Started   int    `json:"started"`
	LastError string `json:"last_error,omitempty"`
	// RetryAt ends the backoff after the last failed attempt.
	RetryAt time.Time `json:"retry_at,omitzero"`
}

// Verdict says whether an attempt may start.
type Verdict int

// The verdicts of StartAttempt.
const (
	// Start: the attempt is counted and may go ahead.
	Start Verdict = iota
	// TooSoon: the backoff after the last failed attempt is not over.
	TooSoon
	// Exhausted: every allowed attempt was made.
	Exhausted
)

// StartAttempt counts a new attempt at exporting completion to dest at
// now, unless max attempts were started already or the backoff after the
// last one is not over. It returns the count (with the last failure).
func (s *Store) StartAttempt(ctx context.Context, dest, completion string, max int, now time.Time) (Attempts, Verdict, error) {
	var v Verdict
	// A first attempt is the rule: its count is created without a read.
	a, _, err := updateGuess(ctx, s.attempts, completedKey(dest, completion), absent, func(a *Attempts, _ bool) (bool, error) {
		switch {
		case a.Started >= max:
			v = Exhausted
		case now.Before(a.RetryAt):
			v = TooSoon
		default:
			v = Start
			a.Started++
		}
		return v == Start, nil
	})
	if err != nil {
		return a, v, fmt.Errorf("count an attempt at %s: %w", dest, err)
	}
	return a, v, nil
}

// FailAttempt records the error that ended the latest attempt and when
// the next may start.
func (s *Store) FailAttempt(ctx context.Context, dest, completion, reason string, retryAt time.Time) error {
	_, err := update(ctx, s.attempts, completedKey(dest, completion), func(a *Attempts, _ bool) (bool, error) {
		a.LastError, a.RetryAt = reason, retryAt
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("record a failed attempt at %s: %w", dest, err)
	}
	return nil
}

// UndoAttempt takes back the count of an attempt that was interrupted by
// the daemon stopping, not by a failure of the export.
func (s *Store) UndoAttempt(ctx context.Context, dest, completion string) error {
	_, err := update(ctx, s.attempts, completedKey(dest, completion), func(a *Attempts, _ bool) (bool, error) {
		if a.Started == 0 {
			return false, nil
		}
		a.Started--
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("take back an interrupted attempt at %s: %w", dest, err)
	}
	return nil
}
