package job

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/state"
	"github.com/exportd/exportd/internal/trigger"
	"github.com/exportd/exportd/sdk"
)

// Bus is what the engine needs from NATS besides the consumer.
type Bus interface {
	// Publish sends a core NATS message (outcomes, advisories).
	Publish(subject string, data []byte) error
	// Enqueue stores a message in the event stream, de-duplicated by msgID.
	Enqueue(ctx context.Context, subject, msgID string, data []byte) error
	// LastEvent returns the newest event in the stream for an account and
	// its stream sequence.
	LastEvent(ctx context.Context, account string) (event.ModellingCompleted, uint64, bool, error)
}

// Metrics records exports. Implementations must be safe for concurrent use.
type Metrics interface {
	ExportStarted(destination string)
	ExportFinished(destination, status string, o Outcome, took time.Duration)
}

// Engine turns events and re-export requests into exports. Its fields are
// set once before use.
type Engine struct {
	Config       *config.Config
	Runner       *Runner
	State        *state.Store
	Destinations map[string]sdk.Destination
	Bus          Bus
	Metrics      Metrics
	// Owner names this daemon in leases (host and pid).
	Owner string
	Log   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Sink, when set, is told every outcome the engine publishes.
	Sink OutcomeSink
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) log() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}

// Handle handles one delivery from the event stream: a modelling-complete
// event or a queued re-export.
func (e *Engine) Handle(ctx context.Context, d trigger.Delivery) trigger.Outcome {
	switch {
	case strings.HasPrefix(d.Subject, event.SubjectPrefix):
		return e.handleEvent(ctx, d)
	case strings.HasPrefix(d.Subject, QueueSubjectPrefix):
		return e.handleQueued(ctx, d)
	}
	return e.malformed(d, fmt.Errorf("subject %q is neither an event nor a queued re-export", d.Subject))
}

// malformed gives a delivery up, logs why and publishes an advisory.
func (e *Engine) malformed(d trigger.Delivery, err error) trigger.Outcome {
	reason := err.Error()
	e.log().Warn("malformed message given up", "subject", d.Subject, "stream_seq", d.StreamSeq, "reason", reason)
	if e.Bus != nil {
		b, _ := json.Marshal(Advisory{Subject: d.Subject, StreamSeq: d.StreamSeq, Reason: reason, At: e.now().UTC()})
		if perr := e.Bus.Publish(AdvisorySubject, b); perr != nil {
			e.log().Warn("publishing an advisory failed", "error", perr)
		}
	}
	return trigger.Term("malformed: " + reason)
}

func (e *Engine) handleEvent(ctx context.Context, d trigger.Delivery) trigger.Outcome {
	ev, err := event.Decode(d.Subject, d.Data)
	if err != nil {
		return e.malformed(d, err)
	}
	log := e.log().With("account", ev.AccountID, "run_id", ev.RunID, "attempt", d.Attempt)
	latest, err := e.State.RecordRun(ctx, ev)
	if err != nil {
		log.Warn("recording the run failed; will retry", "error", err)
		return trigger.Retry(e.backoff(d.Attempt))
	}
	dests := e.destinationsOf(ev.AccountID)
	if len(dests) == 0 {
		log.Info("no destination is configured for the account; nothing to export")
		return trigger.Ack()
	}
	if newer, ok := e.newerRun(ctx, ev, latest, d.StreamSeq); ok {
		log.Info("run superseded by a newer run of the account; not exporting it", "newer_run_id", newer.RunID)
		for _, name := range dests {
			e.publish(OutcomeMessage{JobID: "", Account: ev.AccountID, Destination: name, RunID: ev.RunID,
				Status: StatusSkipped, Final: true, Attempt: d.Attempt, Error: "superseded by run " + newer.RunID})
		}
		return trigger.Ack()
	}
	results := e.export(ctx, spec{
		jobID:      newID("run"),
		event:      ev,
		dests:      dests,
		completion: ev.RunID,
		attempt:    d.Attempt,
		maxAttempt: e.Config.Jobs.MaxDeliver,
	})
	return e.settle(ctx, results, d.Attempt)
}

// newerRun reports a run of the same account that is newer than ev,
// either recorded already or waiting in the stream.
func (e *Engine) newerRun(ctx context.Context, ev, latest event.ModellingCompleted, seq uint64) (event.ModellingCompleted, bool) {
	if latest.RunID != ev.RunID && state.Newer(latest, ev) {
		return latest, true
	}
	if e.Bus == nil {
		return event.ModellingCompleted{}, false
	}
	last, lastSeq, ok, err := e.Bus.LastEvent(ctx, ev.AccountID)
	if err != nil || !ok || lastSeq <= seq || last.RunID == ev.RunID {
		return event.ModellingCompleted{}, false
	}
	return last, state.Newer(last, ev)
}

// destinationsOf lists the enabled destinations of an account that the
// daemon has configured.
func (e *Engine) destinationsOf(account string) []string {
	var out []string
	for _, d := range e.Config.DestinationsFor(account) {
		if _, ok := e.Destinations[d.Name]; ok {
			out = append(out, d.Name)
		}
	}
	return out
}

func (e *Engine) backoff(attempt int) time.Duration {
	b := e.Config.Jobs.Backoff
	if len(b) == 0 {
		return 30 * time.Second
	}
	return b[min(max(attempt-1, 0), len(b)-1)]
}

// spec describes one export to run.
type spec struct {
	jobID  string
	event  event.ModellingCompleted
	dests  []string
	tables []string
	// completion keys the (destination, completion) pairs recorded as
	// done: the run id for events, the job id for re-exports.
	completion string
	// force exports even if the pair is recorded as done (re-exports).
	force      bool
	attempt    int
	maxAttempt int
}

// result is how one export ended for one destination.
type result struct {
	dest    string
	status  string // StatusCommitted, StatusSkipped, or StatusFailed
	err     error
	outcome Outcome
}

// export runs one export for the destinations of s that still need it:
// not yet done, not superseded, and not leased by another job.
func (e *Engine) export(ctx context.Context, s spec) []result {
	var results []result
	var targets []Target
	var leases []*state.Lease
	log := e.log().With("job", s.jobID, "account", s.event.AccountID, "run_id", s.event.RunID)

	jobCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer func() {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer rcancel()
		for _, l := range leases {
			if err := l.Release(rctx); err != nil {
				log.Warn("releasing a lease failed; it will expire", "error", err)
			}
		}
	}()

	// One instant for the whole job, so that destinations without an
	// earlier dump in this minute share the export time (and receipt).
	now := e.now()
	for _, name := range s.dests {
		cfg, _ := e.Config.Destination(name)
		r, t, lease := e.prepare(ctx, s, name, cfg, now)
		if lease != nil {
			leases = append(leases, lease)
			go lease.Keep(jobCtx, func(err error) {
				log.Error("lost the destination lease; stopping the export", "destination", name, "error", err)
				cancel(fmt.Errorf("destination %s: %w", name, err))
			})
		}
		if t == nil {
			results = append(results, r)
			continue
		}
		targets = append(targets, *t)
	}
	if len(targets) == 0 {
		return results
	}

	start := e.now()
	for _, t := range targets {
		if e.Metrics != nil {
			e.Metrics.ExportStarted(t.Name)
		}
		log.Info("export started", "destination", t.Name, "export_time", t.Time.Format(time.RFC3339Nano))
	}
	outcomes := e.Runner.Run(jobCtx, Job{ID: s.jobID + "-" + newID("a"), Event: s.event, Tables: s.tables, Targets: targets})
	took := e.now().Sub(start)

	// Bookkeeping must happen even when the daemon is stopping.
	bctx, bcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer bcancel()
	for _, o := range outcomes {
		r := result{dest: o.Destination, outcome: o}
		if o.Err == nil {
			r.status = StatusCommitted
			if err := e.State.RecordCommit(bctx, o.Destination, o.Time, s.event, o.Receipt); err != nil {
				log.Error("recording a committed dump failed", "destination", o.Destination, "error", err)
			}
			if err := e.State.MarkCompleted(bctx, o.Destination, s.completion, state.Completion{Time: o.Time, Location: o.Receipt.Location}); err != nil {
				log.Error("recording a completed export failed; a redelivery may dump again", "destination", o.Destination, "error", err)
			}
			log.Info("export committed", "destination", o.Destination, "receipt", o.Receipt.Location,
				"files", o.Files(), "rows", o.Rows(), "bytes", o.Bytes(), "seconds", took.Seconds())
		} else {
			r.status, r.err = StatusFailed, o.Err
			if cause := context.Cause(jobCtx); cause != nil && !errors.Is(cause, context.Canceled) {
				r.err = sdk.Retryable(fmt.Errorf("%w (%v)", o.Err, cause))
			}
			log.Warn("export failed", "destination", o.Destination, "error", r.err, "kind", sdk.KindOf(r.err))
			if sdk.KindOf(r.err) != sdk.KindRetryable {
				// Retrying the event for other destinations must not try
				// this one again: it would fail the same way.
				if err := e.State.MarkCompleted(bctx, o.Destination, s.completion, state.Completion{Time: e.now().UTC(), Failed: r.err.Error()}); err != nil {
					log.Warn("recording a failed export failed", "destination", o.Destination, "error", err)
				}
			}
		}
		if e.Metrics != nil {
			e.Metrics.ExportFinished(o.Destination, r.status, o, took)
		}
		r.outcome.Err = r.err
		results = append(results, r)
	}
	e.publishResults(s, results, took)
	return results
}

// prepare decides whether a destination takes part in an export. It
// returns either a finished result, or a target and the lease it holds.
func (e *Engine) prepare(ctx context.Context, s spec, name string, cfg config.Destination, now time.Time) (result, *Target, *state.Lease) {
	r := result{dest: name}
	fail := func(err error) (result, *Target, *state.Lease) {
		r.status, r.err = StatusFailed, err
		return r, nil, nil
	}
	dest, ok := e.Destinations[name]
	if !ok || cfg.Account != s.event.AccountID {
		return fail(sdk.ConfigError("", fmt.Errorf("destination %s is not configured for account %s", name, s.event.AccountID)))
	}
	if !s.force {
		if _, done, err := e.State.Completed(ctx, name, s.completion); err != nil {
			return fail(sdk.Retryable(err))
		} else if done {
			r.status = StatusSkipped
			r.err = errAlreadyDone
			return r, nil, nil
		}
	}
	ds, err := e.State.Destination(ctx, name)
	if err != nil {
		return fail(sdk.Retryable(err))
	}
	last := event.ModellingCompleted{RunID: ds.LastRunID, CompletedAt: ds.LastRunCompletedAt}
	if ds.LastRunID != "" && ds.LastRunID != s.event.RunID && state.Newer(last, s.event) {
		err := fmt.Errorf("destination already has the dump of the newer run %s; receipts never go back in time", ds.LastRunID)
		if s.force {
			return fail(sdk.Permanent(err))
		}
		r.status, r.err = StatusSkipped, err
		if merr := e.State.MarkCompleted(ctx, name, s.completion, state.Completion{Time: e.now().UTC(), Skipped: err.Error()}); merr != nil {
			e.log().Warn("recording a skipped export failed", "destination", name, "error", merr)
		}
		return r, nil, nil
	}
	lease, err := e.State.Acquire(ctx, name, state.LeaseHolder{Owner: e.Owner, Job: s.jobID, Since: e.now().UTC()})
	if err != nil {
		return fail(sdk.Retryable(err))
	}
	t, prev, err := e.State.Reserve(ctx, name, now)
	if err != nil {
		lease.Release(context.WithoutCancel(ctx))
		return fail(sdk.Retryable(err))
	}
	tables := cfg.Tables
	if len(s.tables) > 0 {
		tables = intersect(s.tables, cfg.Tables)
	}
	return r, &Target{
		Name:         name,
		Destination:  &leasedDestination{Destination: dest, lease: lease},
		Tables:       tables,
		Time:         t,
		PreviousTime: prev.LastTime,
	}, lease
}

var errAlreadyDone = errors.New("already delivered")

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

// settle decides what to tell JetStream about an event's delivery.
func (e *Engine) settle(_ context.Context, results []result, attempt int) trigger.Outcome {
	var retryable, permanent []string
	for _, r := range results {
		if r.status != StatusFailed {
			continue
		}
		msg := r.dest + ": " + r.err.Error()
		if sdk.KindOf(r.err) == sdk.KindRetryable {
			retryable = append(retryable, msg)
		} else {
			permanent = append(permanent, msg)
		}
	}
	switch {
	case len(retryable) > 0 && attempt < e.Config.Jobs.MaxDeliver:
		return trigger.Retry(e.backoff(attempt))
	case len(retryable)+len(permanent) > 0:
		return trigger.Term("export failed: " + strings.Join(append(permanent, retryable...), "; "))
	}
	return trigger.Ack()
}

// publishResults publishes one outcome per destination of an export.
func (e *Engine) publishResults(s spec, results []result, took time.Duration) {
	for _, r := range results {
		if errors.Is(r.err, errAlreadyDone) {
			continue
		}
		m := OutcomeMessage{
			JobID: s.jobID, Account: s.event.AccountID, Destination: r.dest, RunID: s.event.RunID,
			Status: r.status, Final: true, Attempt: s.attempt,
		}
		if r.err != nil {
			m.Error = r.err.Error()
			m.ErrorKind = sdk.KindOf(r.err).String()
		}
		if r.status == StatusFailed && sdk.KindOf(r.err) == sdk.KindRetryable && s.attempt < s.maxAttempt {
			m.Status, m.Final = StatusRetrying, false
		}
		if r.status == StatusCommitted {
			o := r.outcome
			m.ExportTime = o.Time
			m.Location = o.Receipt.Location
			m.Receipt = receiptJSON(o.Receipt)
			m.Files, m.Rows, m.Bytes = o.Files(), o.Rows(), o.Bytes()
			m.Seconds = took.Seconds()
		}
		e.publish(m)
	}
}

func (e *Engine) publish(m OutcomeMessage) {
	if e.Sink != nil {
		e.Sink.Outcome(m)
	}
	if e.Bus == nil {
		return
	}
	b, _ := json.Marshal(m)
	if err := e.Bus.Publish(OutcomeSubject(m.Account, m.Destination), b); err != nil {
		e.log().Warn("publishing an outcome failed", "destination", m.Destination, "error", err)
	}
}

// leasedDestination makes sure a dump is committed only while its lease
// is held: Commit renews the lease first.
type leasedDestination struct {
	sdk.Destination
	lease *state.Lease
}

func (d *leasedDestination) Begin(ctx context.Context, info sdk.ExportInfo) (sdk.Export, error) {
	exp, err := d.Destination.Begin(ctx, info)
	if err != nil {
		return nil, err
	}
	return &leasedExport{Export: exp, lease: d.lease}, nil
}

type leasedExport struct {
	sdk.Export
	lease *state.Lease
}

func (x *leasedExport) Commit(ctx context.Context, m sdk.Manifest) (sdk.Receipt, error) {
	if err := x.lease.Renew(ctx); err != nil {
		return sdk.Receipt{}, sdk.Retryable(fmt.Errorf("not committing: %w", err))
	}
	return x.Export.Commit(ctx, m)
}

// newID returns a short unique id with a prefix, safe in subjects, keys
// and file names.
func newID(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}
