package state

import (
	"context"
	"fmt"
	"time"
)

// Failure is an attempt at exporting to a destination that failed. The
// destination's record keeps the latest one, so that a reader of the
// state (exportd status) finds every destination's last failure in the
// one bucket it reads anyway, rather than in the attempts bucket, which
// holds a key per destination and run for the history's whole length.
type Failure struct {
	// At is when the attempt was given up.
	At      time.Time `json:"at"`
	Account string    `json:"account"`
	RunID   string    `json:"run_id"`
	JobID   string    `json:"job_id"`
	// Attempt counts the attempts started at this run or re-export, of
	// MaxAttempts allowed.
	Attempt     int    `json:"attempt"`
	MaxAttempts int    `json:"max_attempts"`
	Error       string `json:"error"`
	// Kind is the error's kind: retryable, permanent or configuration.
	Kind string `json:"kind"`
	// Final is set when the export was given up for good; RetryAt is when
	// the next attempt may start otherwise.
	Final   bool      `json:"final"`
	RetryAt time.Time `json:"retry_at,omitzero"`
}

// RecordFailure records a failed attempt as the destination's latest
// failure. An older failure than the one recorded does not replace it.
// Only failed attempts pay for this write.
func (s *Store) RecordFailure(ctx context.Context, name string, f Failure) error {
	_, err := update(ctx, s.destinations, name, func(d *Destination, _ bool) (bool, error) {
		if d.LastFailure != nil && d.LastFailure.At.After(f.At) {
			return false, nil
		}
		d.LastFailure = &f
		if f.Account != "" {
			d.Account = f.Account
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("record the failure of %s: %w", name, err)
	}
	return nil
}
