// Package notify tells people and systems outside exportd how exports
// end: it posts the destination outcomes that each configured notifier
// selects (failed for good, committed, recovered after failures) to a
// webhook, as signed JSON or as a Slack message.
//
// It never holds an export up: the job engine hands it outcomes through
// Outcome, which only queues them. Each notifier has a bounded queue and a
// worker of its own, so that a receiver that is down or slow delays only
// its own notifications; when a queue is full, the notification is
// dropped and counted. Requests are retried with backoff and never carry
// a secret.
//
// It knows the outcome messages of the job engine and the notify blocks
// of the configuration; it knows nothing of destinations or sources.
package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/job"
)

// Results of a notification, as counted by Metrics.
const (
	ResultSent    = "sent"    // the receiver answered 2xx
	ResultFailed  = "failed"  // every attempt failed, or the receiver refused it
	ResultDropped = "dropped" // a queue was full, or the daemon stopped first
)

// Metrics counts notifications by notifier and result. Implementations
// must be safe for concurrent use.
type Metrics interface {
	Notification(notifier, result string)
}

// Options configure a Dispatcher.
type Options struct {
	Notifiers []config.Notify
	// History remembers failing destinations; it is required when a
	// notifier selects recovered.
	History *History
	Metrics Metrics
	Log     *slog.Logger
	// Transport sends requests; nil uses http.DefaultTransport.
	Transport http.RoundTripper
	// Backoff is the wait before the attempt after attempt n (from 1);
	// nil uses DefaultBackoff.
	Backoff func(n int) time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ErrNoHistory means a notifier selects recoveries but no History was
// given to remember failures in.
var ErrNoHistory = errors.New("notifying recoveries needs a failure history")

// Dispatcher turns job outcomes into notifications. Create it with New,
// start it with Start and stop it with Close. It implements
// job.OutcomeSink.
type Dispatcher struct {
	o        Options
	webhooks []*webhook
	// recovery is true when some notifier selects recovered, so that
	// failures must be remembered.
	recovery bool

	mu     sync.RWMutex // guards closed and sends on in
	closed bool
	in     chan job.OutcomeMessage
	done   chan struct{}
	stop   context.CancelFunc
	ctx    context.Context
}

var _ job.OutcomeSink = (*Dispatcher)(nil)

// New prepares a dispatcher for the configured notifiers.
func New(o Options) (*Dispatcher, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport
	}
	d := &Dispatcher{o: o, done: make(chan struct{})}
	size := 1
	for _, n := range o.Notifiers {
		if slices.Contains(n.Events, config.NotifyRecovered) {
			d.recovery = true
		}
		size = max(size, n.QueueSize)
		d.webhooks = append(d.webhooks, newWebhook(n, o))
	}
	if d.recovery && o.History == nil {
		return nil, ErrNoHistory
	}
	d.in = make(chan job.OutcomeMessage, size)
	return d, nil
}

// Start starts the dispatcher's workers. Requests in flight are cancelled
// when ctx is done; Close stops it in an orderly way.
func (d *Dispatcher) Start(ctx context.Context) {
	d.ctx, d.stop = context.WithCancel(ctx)
	for _, w := range d.webhooks {
		w.start(d.ctx)
	}
	go d.dispatch()
}

// Outcome queues an outcome for the notifiers that select it and returns
// at once. An outcome no notifier can want costs a few comparisons; one
// that finds the queue full is dropped and counted for each notifier
// that might have wanted it.
func (d *Dispatcher) Outcome(m job.OutcomeMessage) {
	events := candidates(m)
	if len(events) == 0 || !d.wanted(m, events) {
		return
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if !d.closed {
		select {
		case d.in <- m:
			return
		default:
		}
	}
	for _, w := range d.webhooks {
		// A lost failure is also a recovery that will not be told.
		lostRecovery := slices.Contains(events, config.NotifyFailed) && w.cfg.Selects(config.NotifyRecovered, m.Account, m.Destination)
		if w.selectsAny(events, m) || lostRecovery {
			w.count(ResultDropped)
		}
	}
	d.o.Log.Warn("notification queue full; outcome not notified", "destination", m.Destination, "status", m.Status)
}

// candidates are the events an outcome may be notified as.
func candidates(m job.OutcomeMessage) []string {
	switch {
	case m.Status == job.StatusFailed && m.Final:
		return []string{config.NotifyFailed}
	case m.Status == job.StatusCommitted:
		return []string{config.NotifyCommitted, config.NotifyRecovered}
	}
	return nil
}

// wanted reports whether a notifier may want the outcome, or a failure
// must be remembered for a recovery to be noticed later.
func (d *Dispatcher) wanted(m job.OutcomeMessage, events []string) bool {
	for _, w := range d.webhooks {
		if w.selectsAny(events, m) {
			return true
		}
	}
	return d.recovery && slices.Contains(events, config.NotifyFailed) && d.recoverySelected(m)
}

func (d *Dispatcher) recoverySelected(m job.OutcomeMessage) bool {
	for _, w := range d.webhooks {
		if w.cfg.Selects(config.NotifyRecovered, m.Account, m.Destination) {
			return true
		}
	}
	return false
}

// dispatch classifies outcomes one by one, in the order they came, and
// hands each notifier the notifications it selects.
func (d *Dispatcher) dispatch() {
	defer close(d.done)
	for m := range d.in {
		n := Notification{ID: newID(), At: d.o.Now().UTC(), Outcome: m}
		switch m.Status {
		case job.StatusFailed:
			n.Event = config.NotifyFailed
			d.rememberFailure(m, n.At)
		case job.StatusCommitted:
			n.Event = config.NotifyCommitted
			if since, failures, ok := d.recovered(m); ok {
				n.Event, n.FailedSince, n.Failures = config.NotifyRecovered, since, failures
			}
		}
		for _, w := range d.webhooks {
			ev := n.Event
			if ev == config.NotifyRecovered && !w.cfg.Selects(ev, m.Account, m.Destination) {
				ev = config.NotifyCommitted // a recovery is a commit to one that asked for commits
			}
			if w.cfg.Selects(ev, m.Account, m.Destination) {
				c := n
				c.Event = ev
				w.enqueue(c)
			}
		}
	}
}

// historyTimeout bounds one history read or write, so that NATS being
// away cannot stall notifications for long.
const historyTimeout = 5 * time.Second

func (d *Dispatcher) rememberFailure(m job.OutcomeMessage, at time.Time) {
	if !d.recovery || !d.recoverySelected(m) {
		return
	}
	ctx, cancel := context.WithTimeout(d.ctx, historyTimeout)
	defer cancel()
	if err := d.o.History.Failed(ctx, m.Destination, at); err != nil {
		d.o.Log.Warn("remembering a failed export failed; its recovery will not be notified", "destination", m.Destination, "error", err)
	}
}

func (d *Dispatcher) recovered(m job.OutcomeMessage) (time.Time, int, bool) {
	if !d.recovery || !d.recoverySelected(m) {
		return time.Time{}, 0, false
	}
	ctx, cancel := context.WithTimeout(d.ctx, historyTimeout)
	defer cancel()
	since, failures, ok, err := d.o.History.Committed(ctx, m.Destination)
	if err != nil {
		d.o.Log.Warn("reading the failure history failed; notifying a commit, not a recovery", "destination", m.Destination, "error", err)
		return time.Time{}, 0, false
	}
	return since, failures, ok
}

// Close stops taking outcomes and lets the notifications already queued
// be sent until ctx is done; those still unsent then are dropped and
// counted, and requests in flight are cancelled. It returns when every
// worker has stopped. It is safe to call more than once.
func (d *Dispatcher) Close(ctx context.Context) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	close(d.in)
	d.mu.Unlock()
	if d.stop == nil { // never started
		return
	}
	finished := make(chan struct{})
	go func() {
		<-d.done
		for _, w := range d.webhooks {
			w.close()
		}
		close(finished)
	}()
	select {
	case <-finished:
	case <-ctx.Done():
		d.stop()
		<-finished
	}
	d.stop()
}

// DefaultBackoff waits 1s before the second attempt and doubles the wait
// each time, up to a minute, with up to a fifth of jitter so that many
// daemons do not retry in step.
func DefaultBackoff(n int) time.Duration {
	d := time.Second << min(max(n-1, 0), 6)
	d = min(d, time.Minute)
	var b [1]byte
	_, _ = rand.Read(b[:])
	return d - d/5*time.Duration(b[0])/255
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "ntf_" + hex.EncodeToString(b[:])
}
