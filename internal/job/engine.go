package job

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
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
	Config  *config.Config
	Runner  *Runner
	State   *state.Store
	Catalog Catalog
	Bus     Bus
	Metrics Metrics
	// Owner names this daemon in leases (host and pid).
	Owner string
	Log   *slog.Logger
	// Clock tells the time and waits for free minutes; nil means the
	// system clock.
	Clock Clock
	// Sink, when set, is told every outcome the engine publishes.
	Sink OutcomeSink
	// Progress, when set, publishes the progress of long exports; it must
	// also be the Runner's Observer (progress.go).
	Progress *Progress
	// Slots, when set, decide which exports run at once by their size
	// (slots.go); nil runs every export handed to the engine at once.
	Slots *Slots
}

func (e *Engine) clock() Clock {
	if e.Clock != nil {
		return e.Clock
	}
	return SystemClock{}
}

func (e *Engine) now() time.Time { return e.clock().Now() }

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

// published is when a delivery's message was stored in the stream, or now
// when that is unknown.
func (e *Engine) published(d trigger.Delivery) time.Time {
	if d.Published.IsZero() {
		return e.now()
	}
	return d.Published
}

// notAfter is the latest completion time a run may have: later ones were
// refused, or recorded before they were, and supersede nothing.
func (e *Engine) notAfter() time.Time { return e.now().Add(event.MaxClockSkew) }

func (e *Engine) handleEvent(ctx context.Context, d trigger.Delivery) trigger.Outcome {
	ev, err := event.Decode(d.Subject, d.Data)
	if err == nil {
		err = event.CheckCompletedAt(ev, e.published(d))
	}
	if err != nil {
		return e.malformed(d, err)
	}
	log := e.log().With("account", ev.AccountID, "run_id", ev.RunID, "delivery", d.Attempt)
	set := e.Catalog.Destinations(ev.AccountID)
	defer set.release()
	dests := set.Names()
	// The newest event in the stream is looked up while the run is
	// recorded: two requests to NATS, one wait.
	var newest func() (event.ModellingCompleted, uint64, bool)
	if len(dests) > 0 {
		newest = e.lastEvent(ctx, ev.AccountID)
	}
	latest, err := e.State.RecordRun(ctx, ev, e.notAfter())
	if err != nil {
		log.Warn("recording the run failed; will retry", "error", err)
		return trigger.Retry(e.backoff(d.Attempt))
	}
	if len(dests) == 0 {
		log.Info("no destination is configured for the account; nothing to export")
		return trigger.Ack()
	}
	if newer, ok := e.newerRun(ev, latest, d.StreamSeq, newest); ok {
		log.Info("run superseded by a newer run of the account; not exporting it", "newer_run_id", newer.RunID)
		for _, name := range dests {
			if e.announceCompleted(ctx, name, ev) {
				continue
			}
			e.publish(OutcomeMessage{JobID: "", Account: ev.AccountID, Destination: name, RunID: ev.RunID,
				Status: StatusSkipped, Final: true, Error: "superseded by run " + newer.RunID})
		}
		return trigger.Ack()
	}
	results := e.export(ctx, spec{
		jobID:      newID("run"),
		event:      ev,
		dests:      dests,
		set:        set,
		completion: ev.RunID,
		maxAttempt: e.Config.Jobs.MaxDeliver,
	})
	return e.settle(results)
}

// newerRun reports a run of the same account that is newer than ev,
// either recorded already or waiting in the stream (as newest tells).
func (e *Engine) newerRun(ev, latest event.ModellingCompleted, seq uint64, newest func() (event.ModellingCompleted, uint64, bool)) (event.ModellingCompleted, bool) {
	if latest.RunID != ev.RunID && state.Newer(latest, ev) {
		return latest, true
	}
	if newest == nil {
		return event.ModellingCompleted{}, false
	}
	last, lastSeq, ok := newest()
	if !ok || lastSeq <= seq || last.RunID == ev.RunID {
		return event.ModellingCompleted{}, false
	}
	return last, state.Newer(last, ev)
}

// lastEvent starts looking up the newest event of an account in the
// stream and returns a function that waits for it; it reports nothing
// when there is no bus or the look-up failed.
func (e *Engine) lastEvent(ctx context.Context, account string) func() (event.ModellingCompleted, uint64, bool) {
	if e.Bus == nil {
		return nil
	}
	type found struct {
		ev  event.ModellingCompleted
		seq uint64
		ok  bool
	}
	ch := make(chan found, 1)
	go func() {
		ev, seq, ok, err := e.Bus.LastEvent(ctx, account)
		ch <- found{ev, seq, ok && err == nil}
	}()
	return func() (event.ModellingCompleted, uint64, bool) {
		f := <-ch
		return f.ev, f.seq, f.ok
	}
}

// backoff is the pause after the attempt-th failed attempt.
func (e *Engine) backoff(attempt int) time.Duration {
	b := e.Config.Jobs.Backoff
	if len(b) == 0 {
		return 30 * time.Second
	}
	return b[min(max(attempt-1, 0), len(b)-1)]
}

// leaseWait is how long an export waits before it looks again at a
// destination that another job is exporting to: the first backoff step,
// at most the lease's TTL (in which a crashed holder's lease expires).
func (e *Engine) leaseWait() time.Duration {
	return min(e.backoff(1), e.Config.Jobs.LeaseTTL)
}

// resumeWait is how long a delivery handed back by a stopping daemon
// waits before another replica takes it.
const resumeWait = time.Second

// settle decides what to tell JetStream about a delivery: retry it when a
// destination still needs it (after the shortest pause any of them asks
// for), give it up when one failed for good, acknowledge it otherwise.
func (e *Engine) settle(results []result) trigger.Outcome {
	var failed []string
	retry := time.Duration(-1)
	for _, r := range results {
		if r.retryIn >= 0 && (retry < 0 || r.retryIn < retry) {
			retry = r.retryIn
		}
		if r.status == StatusFailed {
			failed = append(failed, r.dest+": "+r.err.Error())
		}
	}
	switch {
	case retry >= 0:
		return trigger.Retry(retry)
	case len(failed) > 0:
		return trigger.Term("export failed: " + strings.Join(failed, "; "))
	}
	return trigger.Ack()
}

// publishResults publishes one outcome per destination of an export.
func (e *Engine) publishResults(s spec, results []result, took time.Duration) {
	for _, r := range results {
		if r.quiet {
			continue
		}
		m := OutcomeMessage{
			JobID: s.jobID, Account: s.event.AccountID, Destination: r.dest, RunID: s.event.RunID,
			Status: r.status, Final: r.retryIn < 0, Attempt: r.attempt,
		}
		if r.err != nil {
			m.Error = r.err.Error()
			m.ErrorKind = sdk.KindOf(r.err).String()
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

// announceCompleted publishes again, on the bus only, the outcome of a
// run that a destination already completed, and reports whether it did.
// A redelivered run that a newer one has superseded since may have been
// exported by its first delivery, whose outcome may have been lost with
// that replica (it crashed, or its node died at the wrong moment): saying
// "skipped" would misreport a dump the customer has. The notifiers heard
// it the first time, in the process that exported it.
func (e *Engine) announceCompleted(ctx context.Context, dest string, ev event.ModellingCompleted) bool {
	c, done, err := e.State.Completed(ctx, dest, ev.RunID)
	if err != nil || !done {
		return false
	}
	e.announce(dest, ev, c)
	return true
}

// announce publishes, on the bus only, how a destination's export of a
// run ended, as the shared state records it.
func (e *Engine) announce(dest string, ev event.ModellingCompleted, c state.Completion) {
	m := OutcomeMessage{Account: ev.AccountID, Destination: dest, RunID: ev.RunID, Final: true}
	switch {
	case c.Failed != "":
		m.Status, m.Error = StatusFailed, c.Failed
	case c.Skipped != "":
		m.Status, m.Error = StatusSkipped, c.Skipped
	default:
		m.Status, m.ExportTime, m.Location = StatusCommitted, c.Time, c.Location
		m.Files, m.Rows, m.Bytes = c.Files, c.Rows, c.Bytes
	}
	e.publishBus(m)
}

func (e *Engine) publish(m OutcomeMessage) {
	if e.Sink != nil {
		e.Sink.Outcome(m)
	}
	e.publishBus(m)
}

// publishBus publishes an outcome on NATS only.
func (e *Engine) publishBus(m OutcomeMessage) {
	if e.Bus == nil {
		return
	}
	b, _ := json.Marshal(m)
	if err := e.Bus.Publish(OutcomeSubject(m.Account, m.Destination), b); err != nil {
		e.log().Warn("publishing an outcome failed", "destination", m.Destination, "error", err)
	}
}

// newID returns a short unique id with a prefix, safe in subjects, keys
// and file names.
func newID(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}
