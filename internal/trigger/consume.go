package trigger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Setup creates or updates, idempotently, the stream that stores
// modelling-complete events (on the configured subjects, plus extra
// subjects of the daemon's own, such as queued re-exports) and the durable
// pull consumer every replica binds to.
//
// The consumer redelivers without limit: JetStream counts every delivery,
// including those that only found the destination leased by another job or
// were handed back by a stopping daemon, which are not failed attempts.
// The job engine counts real attempts itself (jobs.max_deliver) and gives
// an event up by terminating it.
func Setup(ctx context.Context, js jetstream.JetStream, c config.NATS, j config.Jobs, extra ...string) (jetstream.Consumer, error) {
	subjects := append(append([]string(nil), c.Subjects...), extra...)
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        c.Stream,
		Description: "exportd: modelling-complete events and queued re-exports",
		Subjects:    subjects,
		Retention:   retention(c.Retention),
		MaxAge:      c.MaxAge,
		Duplicates:  c.DuplicateWindow,
		Replicas:    c.Replicas,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("create or update stream %s: %w", c.Stream, err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, c.Stream, jetstream.ConsumerConfig{
		Durable:        c.Consumer,
		Description:    "exportd: one export job per event, shared by every replica",
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        j.AckWait,
		MaxDeliver:     -1,
		FilterSubjects: subjects,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		MaxAckPending:  1000,
		Replicas:       c.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("create or update consumer %s on %s: %w", c.Consumer, c.Stream, err)
	}
	return cons, nil
}

func retention(name string) jetstream.RetentionPolicy {
	if name == "workqueue" {
		return jetstream.WorkQueuePolicy
	}
	return jetstream.LimitsPolicy
}

// Delivery is one delivery of one event message.
type Delivery struct {
	Subject string
	Data    []byte
	Header  nats.Header
	// Attempt counts deliveries of this message, from 1.
	Attempt int
	// StreamSeq is the message's sequence in the stream.
	StreamSeq uint64
	Published time.Time
}

// Outcome is what to tell JetStream once a delivery has been handled.
type Outcome struct {
	kind   outcomeKind
	delay  time.Duration
	reason string
}

type outcomeKind int

const (
	outcomeAck outcomeKind = iota
	outcomeRetry
	outcomeTerm
)

// Ack reports the event handled.
func Ack() Outcome { return Outcome{kind: outcomeAck} }

// Retry asks for the event again after delay.
func Retry(delay time.Duration) Outcome { return Outcome{kind: outcomeRetry, delay: delay} }

// Term gives the event up for good, for the given reason.
func Term(reason string) Outcome { return Outcome{kind: outcomeTerm, reason: reason} }

func (o Outcome) String() string {
	switch o.kind {
	case outcomeRetry:
		return fmt.Sprintf("retry in %v", o.delay)
	case outcomeTerm:
		return "term: " + o.reason
	}
	return "ack"
}

// Handler handles one delivery. ctx is cancelled when the daemon stops
// and its grace period is over; a handler that notices should return
// Retry so another replica picks the event up.
type Handler func(ctx context.Context, d Delivery) Outcome

// ConsumeOptions configure Consume.
type ConsumeOptions struct {
	Workers int
	// Heartbeat is how often a delivery in progress is reported to
	// JetStream so that it is not redelivered elsewhere.
	Heartbeat time.Duration
	Logger    *slog.Logger
}

// Consume runs workers that each fetch one message at a time (so no ack
// timer starts before a worker is free), keep it alive with in-progress
// heartbeats while the handler runs, and settle it as the handler says.
// Workers is how many deliveries are in hand at once: the handler may
// make some of them wait for their turn (the job engine's slots), so it
// is more than the exports that run at once.
// It stops fetching when fetchCtx is done and returns once in-flight
// handlers, which run under jobCtx, have returned.
func Consume(fetchCtx, jobCtx context.Context, cons jetstream.Consumer, o ConsumeOptions, h Handler) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var wg sync.WaitGroup
	for i := 0; i < o.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker(fetchCtx, jobCtx, cons, o, log, h)
		}()
	}
	wg.Wait()
}

func worker(fetchCtx, jobCtx context.Context, cons jetstream.Consumer, o ConsumeOptions, log *slog.Logger, h Handler) {
	failures := 0
	for fetchCtx.Err() == nil {
		fctx, cancel := context.WithTimeout(fetchCtx, 5*time.Second)
		batch, err := cons.Fetch(1, jetstream.FetchContext(fctx))
		if err == nil {
			for m := range batch.Messages() {
				handle(jobCtx, m, o, log, h)
			}
			err = batch.Error()
		}
		cancel()
		if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
			failures = 0
			continue
		}
		failures++
		wait := min(time.Duration(failures)*500*time.Millisecond, 10*time.Second)
		log.Warn("fetch failed; retrying", "error", err, "in", wait)
		select {
		case <-fetchCtx.Done():
		case <-time.After(wait):
		}
	}
}

func handle(ctx context.Context, m jetstream.Msg, o ConsumeOptions, log *slog.Logger, h Handler) {
	d := Delivery{Subject: m.Subject(), Data: m.Data(), Header: m.Headers(), Attempt: 1}
	if md, err := m.Metadata(); err == nil {
		d.Attempt = int(md.NumDelivered)
		d.StreamSeq = md.Sequence.Stream
		d.Published = md.Timestamp
	}
	hbCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		t := time.NewTicker(o.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-t.C:
				if err := m.InProgress(); err != nil {
					log.Warn("in-progress heartbeat failed", "subject", d.Subject, "error", err)
				}
			}
		}
	}()
	out := h(ctx, d)
	stop()
	<-hbDone

	// Settling does not wait for JetStream's answer, so that the worker
	// fetches its next event at once. An acknowledgement that gets lost
	// (NATS going away just then) redelivers the event after the ack
	// wait, and the handler finds it done.
	var err error
	switch out.kind {
	case outcomeAck:
		err = m.Ack()
	case outcomeRetry:
		err = m.NakWithDelay(out.delay)
	case outcomeTerm:
		err = m.TermWithReason(out.reason)
	}
	if err != nil {
		log.Warn("settling event failed; JetStream will redeliver it", "subject", d.Subject, "outcome", out.String(), "error", err)
	}
}
