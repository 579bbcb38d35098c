package job

import (
	"fmt"
	"slices"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/state"
	"github.com/exportd/exportd/sdk"
)

// admit decides whether a destination takes part in the export. It either
// records a result (done already, superseded, leased by another job,
// refused) or adds a candidate that holds the destination's lease.
func (x *jobRun) admit(name string) {
	e, s := x.e, x.s
	d, ok := s.set.Lookup(name)
	if !ok {
		x.add(x.final(name, 0, sdk.ConfigError("", fmt.Errorf("destination %s is not configured for account %s", name, s.event.AccountID))))
		return
	}
	if !s.force {
		if c, done, err := e.State.Completed(x.ctx, name, s.completion); err != nil {
			x.add(x.notNow(name, sdk.Retryable(err), e.backoff(1)))
			return
		} else if done {
			// A redelivery of a run already exported: its outcome may have
			// been lost with the connection of the replica that exported
			// it, so the bus hears it again (the notifiers do not).
			if s.completion == s.event.RunID {
				e.announce(name, s.event, c)
			}
			x.add(result{dest: name, status: StatusSkipped, err: errAlreadyDone, retryIn: -1, quiet: true})
			return
		}
	}
	dest, err := d.Open(x.ctx)
	if err != nil {
		if sdk.KindOf(err) == sdk.KindRetryable {
			x.add(x.notNow(name, err, e.backoff(1)))
		} else {
			x.add(x.final(name, 0, err))
		}
		return
	}
	lease, err := e.State.Acquire(x.ctx, name, state.LeaseHolder{Owner: e.Owner, Job: s.jobID, Since: e.now().UTC()})
	if err != nil {
		// Another job exporting to the destination is no failure of this
		// one: it waits, however long that job takes.
		x.add(x.notNow(name, sdk.Retryable(err), e.leaseWait()))
		return
	}
	x.leases = append(x.leases, lease)
	go lease.Keep(x.jobCtx, func(err error) {
		x.log.Error("lost the destination lease; stopping the export", "destination", name, "error", err)
		x.cancel(fmt.Errorf("destination %s: %w", name, err))
	})
	ds, err := e.State.Destination(x.ctx, name)
	if err != nil {
		x.add(x.notNow(name, sdk.Retryable(err), e.backoff(1)))
		return
	}
	c := &candidate{name: name, dest: dest, lease: lease, ds: ds, tables: d.Tables}
	if r, done := x.settledBefore(c); done {
		x.add(r)
		return
	}
	if in := ds.Intent; in != nil && in.Completion == s.completion && in.Time.After(ds.LastTime) {
		c.intent = in // the dump is delivered; only its commit is in doubt
	} else if len(s.tables) > 0 {
		c.tables = intersect(s.tables, d.Tables)
		if c.carried, err = carriedTables(name, ds, s.event.RunID, d.Tables, c.tables); err != nil {
			x.add(x.final(name, 0, sdk.Permanent(err)))
			return
		}
	}
	x.candidates = append(x.candidates, c)
}

// settledBefore finds what an earlier delivery of the export did to the
// destination without recording it as done: it committed (the daemon died
// before it marked the pair done), or a newer run's dump is there already.
func (x *jobRun) settledBefore(c *candidate) (result, bool) {
	s, ds := x.s, c.ds
	if ds.LastCompletion != "" && ds.LastCompletion == s.completion {
		o := Outcome{Destination: c.name, Time: ds.LastTime, Receipt: sdk.Receipt{Location: ds.LastLocation, Body: ds.LastReceipt}}
		r := x.committed(c, o)
		r.outcome = o
		return r, true
	}
	last := event.ModellingCompleted{RunID: ds.LastRunID, CompletedAt: ds.LastRunCompletedAt}
	// A run dated in the future (recorded before such events were
	// refused) supersedes nothing.
	if ds.LastRunID == "" || ds.LastRunID == s.event.RunID || !state.Newer(last, s.event) || last.CompletedAt.After(x.e.notAfter()) {
		return result{}, false
	}
	err := fmt.Errorf("destination already has the dump of the newer run %s; receipts never go back in time", ds.LastRunID)
	if s.force {
		return x.final(c.name, 0, sdk.Permanent(err)), true
	}
	skipped := state.Completion{Time: x.e.now().UTC(), Skipped: err.Error()}
	if merr := x.e.State.MarkCompleted(x.ctx, c.name, s.completion, skipped); merr != nil {
		x.log.Warn("recording a skipped export failed", "destination", c.name, "error", merr)
	}
	return result{dest: c.name, status: StatusSkipped, err: err, retryIn: -1}, true
}

// intersect keeps the requested tables a destination takes (all, when it
// has no subset of its own).
func intersect(requested, own []string) []string {
	if len(own) == 0 {
		return requested
	}
	var out []string
	for _, t := range requested {
		if slices.Contains(own, t) {
			out = append(out, t)
		}
	}
	if out == nil {
		out = []string{} // a non-nil empty subset: the destination gets nothing
	}
	return out
}
