package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/state"
	"github.com/exportd/exportd/sdk"
)

// spec describes one export to run.
type spec struct {
	jobID string
	event event.ModellingCompleted
	dests []string
	// set holds the account's destinations as the export found them; nil
	// makes the export look them up when it starts.
	set    *DestinationSet
	tables []string
	// completion keys the (destination, completion) pairs recorded as
	// done, and their attempts: the run id for events, the job id for
	// re-exports.
	completion string
	// force exports even if the pair is recorded as done (re-exports).
	force      bool
	maxAttempt int
	// starting, when set, is called once the export is about to read its
	// data, after the leases are taken and the export time has come.
	starting func(ctx context.Context)
}

// result is how one export ended, or where it stands, for one destination.
type result struct {
	dest    string
	status  string // one of the Status values
	err     error
	outcome Outcome
	// attempt counts the attempts started at (destination, completion).
	attempt int
	// retryIn is when the delivery should come back for this destination;
	// negative when nothing more will happen for it.
	retryIn time.Duration
	// quiet results publish no outcome (an earlier delivery did).
	quiet bool
}

var errAlreadyDone = errors.New("already delivered")

// candidate is a destination admitted to an export: leased, not done, not
// superseded.
type candidate struct {
	name  string
	dest  sdk.Destination
	lease *state.Lease
	// ds is the destination's state, read under the lease.
	ds state.Destination
	// tables is the destination's share of the tables; nil means all.
	tables []string
	// carried completes a re-export of some tables (see carriedTables).
	carried []sdk.TableManifest
	// intent, when set, makes this a recommit of that dump.
	intent  *state.CommitIntent
	attempt int
	time    time.Time
}

// jobRun is one export in progress.
type jobRun struct {
	e   *Engine
	s   spec
	log *slog.Logger
	// ctx is the delivery's: done when the daemon stops. jobCtx is done
	// too when a destination's lease is lost.
	ctx    context.Context
	jobCtx context.Context
	cancel context.CancelCauseFunc

	leases     []*state.Lease
	candidates []*candidate
	results    []result
	slot       *slot
}

// export runs one export for the destinations of s that need it, and
// returns what became of each.
func (e *Engine) export(ctx context.Context, s spec) []result {
	x := &jobRun{e: e, s: s, ctx: ctx,
		log: e.log().With("job", s.jobID, "account", s.event.AccountID, "run_id", s.event.RunID)}
	x.jobCtx, x.cancel = context.WithCancelCause(ctx)
	defer x.close()
	if x.s.set == nil {
		x.s.set = e.Catalog.Destinations(s.event.AccountID)
		defer x.s.set.release()
	}

	for _, name := range s.dests {
		x.admit(name)
	}
	x.takeSlot()
	defer x.slot.leave()
	x.startAttempts()
	x.reserveTimes()
	var took time.Duration
	if len(x.candidates) > 0 {
		if s.starting != nil {
			s.starting(ctx)
		}
		start := e.now()
		outcomes := x.run()
		took = e.now().Sub(start)
		x.conclude(outcomes, took)
	}
	x.recordFailures()
	e.publishResults(s, x.results, took)
	return x.results
}

// close stops the lease keepers and gives the leases back, even when the
// daemon is stopping.
func (x *jobRun) close() {
	x.cancel(nil)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(x.ctx), 10*time.Second)
	defer cancel()
	for _, l := range x.leases {
		if err := l.Release(ctx); err != nil {
			x.log.Warn("releasing a lease failed; it will expire", "error", err)
		}
	}
}

func (x *jobRun) add(r result) { x.results = append(x.results, r) }

// drop takes a candidate out of the export with a result.
func (x *jobRun) drop(c *candidate, r result) {
	for i, k := range x.candidates {
		if k == c {
			x.candidates = append(x.candidates[:i], x.candidates[i+1:]...)
			break
		}
	}
	x.add(r)
}

// startAttempts counts an attempt for every candidate, leaving out those
// whose backoff is not over and giving up those out of attempts.
func (x *jobRun) startAttempts() {
	now := x.e.now()
	for _, c := range append([]*candidate(nil), x.candidates...) {
		a, v, err := x.e.State.StartAttempt(x.ctx, c.name, x.s.completion, max(x.s.maxAttempt, 1), now)
		switch {
		case err != nil:
			x.drop(c, x.notNow(c.name, sdk.Retryable(err), x.e.backoff(1)))
		case v == state.TooSoon:
			x.drop(c, result{dest: c.name, status: StatusWaiting, attempt: a.Started, retryIn: a.RetryAt.Sub(now),
				err: sdk.Retryable(fmt.Errorf("attempt %d failed (%s); the next may start at %s", a.Started, a.LastError, a.RetryAt.UTC().Format(time.RFC3339)))})
		case v == state.Exhausted:
			err := sdk.Permanent(fmt.Errorf("gave up after %d attempts; the last failed with: %s", a.Started, a.LastError))
			x.drop(c, x.final(c.name, a.Started, err))
		default:
			c.attempt = a.Started
		}
	}
}

// reserveTimes gives every candidate that dumps anew its export time: the
// first instant at which every one of them has a free minute, so that
// they share the time (and receipt) where they can.
func (x *jobRun) reserveTimes() {
	var free time.Time
	for _, c := range x.candidates {
		if c.intent == nil && c.ds.FreeAt().After(free) {
			free = c.ds.FreeAt()
		}
	}
	t, err := waitUntil(x.jobCtx, x.e.clock(), free, x.log)
	for _, c := range append([]*candidate(nil), x.candidates...) {
		if c.intent != nil {
			c.time = c.intent.Time
			continue
		}
		if err == nil {
			c.time, _, err = x.e.State.Reserve(x.jobCtx, c.name, t)
		}
		if err != nil {
			x.drop(c, x.failed(c, sdk.Retryable(err)))
		}
	}
}

// run exports to the candidates: a new dump through the runner, or a
// recommit. It returns their outcomes by destination.
func (x *jobRun) run() map[string]Outcome {
	var targets []Target
	var recommits []*candidate
	for _, c := range x.candidates {
		if x.e.Metrics != nil {
			x.e.Metrics.ExportStarted(c.name)
		}
		x.log.Info("export started", "destination", c.name, "export_time", c.time.Format(time.RFC3339Nano),
			"attempt", c.attempt, "recommit", c.intent != nil)
		if c.intent != nil {
			recommits = append(recommits, c)
			continue
		}
		targets = append(targets, Target{
			Name:         c.name,
			Destination:  x.recorded(c),
			Tables:       c.tables,
			Time:         c.time,
			PreviousTime: c.ds.LastTime,
			Carried:      c.carried,
			MaxFileSize:  maxObjectSize(c.dest),
		})
	}
	job := Job{ID: x.s.jobID + "-" + newID("a"), Event: x.s.event, Tables: x.s.tables, Targets: targets}
	if x.slot.watch() {
		job.Grown, job.GrowAfter = x.grown, x.e.Slots.SmallRows
	}
	out := map[string]Outcome{}
	stopProgress := x.e.Progress.Track(job, x.s.jobID)
	for _, o := range x.e.Runner.Run(x.jobCtx, job) {
		out[o.Destination] = o
	}
	stopProgress()
	for _, c := range recommits {
		out[c.name] = x.recommit(c)
	}
	return out
}

// takeSlot waits for a slot fit for the export's expected size. A large
// export that can neither run nor wait is handed back to the stream, for
// every candidate, without an attempt.
func (x *jobRun) takeSlot() {
	if len(x.candidates) == 0 || x.e.Slots == nil {
		return
	}
	rows := x.expectedRows()
	sl, err := x.e.Slots.enter(x.jobCtx, rows)
	if err != nil {
		for _, c := range append([]*candidate(nil), x.candidates...) {
			x.drop(c, x.notNow(c.name, sdk.Retryable(err), x.e.leaseWait()))
		}
		return
	}
	x.slot = sl
	if sl.large {
		x.log.Debug("export takes a large slot", "expected_rows", rows)
	}
}

// expectedRows is how many rows the export is expected to encode: the
// most any candidate's last dump held in the tables it exports now, or
// -1 when none has a dump on record. A recommit encodes nothing.
func (x *jobRun) expectedRows() int64 {
	rows := int64(-1)
	for _, c := range x.candidates {
		if c.intent != nil {
			rows = max(rows, 0)
			continue
		}
		if len(c.ds.Tables) == 0 {
			continue
		}
		var n int64
		for name, t := range c.ds.Tables {
			if c.tables == nil || slices.Contains(c.tables, name) {
				n += t.Rows
			}
		}
		rows = max(rows, n)
	}
	return rows
}

// grown moves an export that turned out large to a large slot.
func (x *jobRun) grown(ctx context.Context) error {
	x.log.Info("export is larger than a small one; it continues in a large slot", "rows_over", x.e.Slots.SmallRows)
	return x.slot.grown(ctx)
}

// conclude records what became of every candidate.
func (x *jobRun) conclude(outcomes map[string]Outcome, took time.Duration) {
	for _, c := range x.candidates {
		o, ok := outcomes[c.name]
		if !ok {
			o = Outcome{Destination: c.name, Err: sdk.Retryable(errors.New("the export ended without an outcome for the destination"))}
		}
		var r result
		if o.Err == nil {
			r = x.committed(c, o)
			x.log.Info("export committed", "destination", c.name, "receipt", o.Receipt.Location,
				"files", o.Files(), "rows", o.Rows(), "bytes", o.Bytes(), "seconds", took.Seconds())
		} else {
			err := o.Err
			if cause := context.Cause(x.jobCtx); cause != nil && !errors.Is(cause, context.Canceled) {
				err = sdk.Retryable(fmt.Errorf("%w (%v)", err, cause))
			}
			r = x.failed(c, err)
			x.log.Warn("export failed", "destination", c.name, "error", r.err, "kind", sdk.KindOf(r.err), "status", r.status)
		}
		r.outcome = o
		r.outcome.Err = r.err
		if x.e.Metrics != nil {
			// Every attempt that did not commit counts as failed, however
			// the job goes on.
			status := StatusFailed
			if r.status == StatusCommitted {
				status = StatusCommitted
			}
			x.e.Metrics.ExportFinished(c.name, status, r.outcome, took)
		}
		x.add(r)
	}
}

// committed marks a committed destination done.
func (x *jobRun) committed(c *candidate, o Outcome) result {
	done := state.Completion{Time: o.Time, Location: o.Receipt.Location, Files: o.Files(), Rows: o.Rows(), Bytes: o.Bytes()}
	if err := persist(x.ctx, func(ctx context.Context) error {
		return x.e.State.MarkCompleted(ctx, c.name, x.s.completion, done)
	}); err != nil {
		// The destination's record names this export: a redelivery finds
		// it there and does not dump again.
		x.log.Error("recording a completed export failed", "destination", c.name, "error", err)
	}
	return result{dest: c.name, status: StatusCommitted, attempt: c.attempt, retryIn: -1}
}

// failed decides what a failed attempt means: an interruption by a
// stopping daemon (not counted), a failure to retry after a backoff, or,
// when the error is not retryable or the attempts are used up, the end.
func (x *jobRun) failed(c *candidate, err error) result {
	ctx := x.ctx
	if x.ctx.Err() != nil {
		if uerr := persist(ctx, func(ctx context.Context) error {
			return x.e.State.UndoAttempt(ctx, c.name, x.s.completion)
		}); uerr != nil {
			x.log.Warn("taking back an interrupted attempt failed; it counts", "destination", c.name, "error", uerr)
		}
		return result{dest: c.name, status: StatusInterrupted, err: sdk.Retryable(err), attempt: c.attempt - 1, retryIn: resumeWait}
	}
	if sdk.KindOf(err) == sdk.KindRetryable && c.attempt < x.s.maxAttempt {
		wait := x.e.backoff(c.attempt)
		if ferr := persist(ctx, func(ctx context.Context) error {
			return x.e.State.FailAttempt(ctx, c.name, x.s.completion, err.Error(), x.e.now().Add(wait))
		}); ferr != nil {
			x.log.Warn("recording a failed attempt failed", "destination", c.name, "error", ferr)
		}
		return result{dest: c.name, status: StatusRetrying, err: err, attempt: c.attempt, retryIn: wait}
	}
	if ferr := persist(ctx, func(ctx context.Context) error {
		return x.e.State.FailAttempt(ctx, c.name, x.s.completion, err.Error(), time.Time{})
	}); ferr != nil {
		x.log.Warn("recording a failed attempt failed", "destination", c.name, "error", ferr)
	}
	return x.final(c.name, c.attempt, err)
}

// final gives a destination up for good: retrying the event for other
// destinations must not try this one again.
func (x *jobRun) final(name string, attempt int, err error) result {
	gaveUp := state.Completion{Time: x.e.now().UTC(), Failed: err.Error()}
	if merr := persist(x.ctx, func(ctx context.Context) error {
		return x.e.State.MarkCompleted(ctx, name, x.s.completion, gaveUp)
	}); merr != nil {
		x.log.Warn("recording a failed export failed", "destination", name, "error", merr)
	}
	return result{dest: name, status: StatusFailed, err: err, attempt: attempt, retryIn: -1}
}

// notNow puts a destination off without an attempt: the shared state
// could not be read, say. Nothing is counted.
func (x *jobRun) notNow(name string, err error, in time.Duration) result {
	status := StatusWaiting
	if x.ctx.Err() != nil {
		status, in = StatusInterrupted, resumeWait
	}
	return result{dest: name, status: status, err: err, retryIn: in}
}
