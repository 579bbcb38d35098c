package job

import (
	"context"
	"errors"

	"github.com/exportd/exportd/internal/state"
	"github.com/exportd/exportd/sdk"
)

// recordFailures keeps, in each destination's record, the export's failed
// attempts (retrying or given up), so that exportd status shows every
// destination's last failure from one bucket. Exports that commit, wait
// or are interrupted write nothing here.
func (x *jobRun) recordFailures() {
	now := x.e.now().UTC()
	for _, r := range x.results {
		if (r.status != StatusRetrying && r.status != StatusFailed) || r.err == nil || errors.Is(r.err, errAlreadyDone) {
			continue
		}
		// A queued re-export naming another account's destination (only a
		// forged one can) must not write into that destination's record.
		if _, ok := x.s.set.Lookup(r.dest); !ok {
			continue
		}
		f := state.Failure{
			At: now, Account: x.s.event.AccountID, RunID: x.s.event.RunID, JobID: x.s.jobID,
			Attempt: r.attempt, MaxAttempts: x.s.maxAttempt,
			Error: r.err.Error(), Kind: sdk.KindOf(r.err).String(),
			Final: r.status == StatusFailed,
		}
		if !f.Final {
			f.RetryAt = now.Add(r.retryIn)
		}
		if err := persist(x.ctx, func(ctx context.Context) error { return x.e.State.RecordFailure(ctx, r.dest, f) }); err != nil {
			x.log.Warn("recording a failure for exportd status failed", "destination", r.dest, "error", err)
		}
	}
}
