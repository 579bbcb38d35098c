// Package jsretry tells the JetStream failures that pass by themselves (a
// request that timed out, nobody answering while a stream elects a leader,
// a cluster still forming) from those that mean something (a lost
// compare-and-set, a missing key, a refused configuration), and retries
// operations through the former, within a bound.
//
// It knows nothing of what the operations do: the state store and the
// trigger say what to retry and for how long.
package jsretry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStream API error codes (nats-server's errors.json) that say the
// cluster cannot serve the request right now.
const (
	codeClusterNotAvailable = 10008 // JetStream system temporarily unavailable
	codeClusterNotLeader    = 10009 // JetStream cluster can not handle request
	codeNoSuitablePeers     = 10005 // no suitable peers for placement
	codeStreamNotCurrent    = 10018 // a stream or consumer catching up
	codeIncomplete          = 10004 // incomplete results
)

// Transient reports whether err may pass by itself: the request timed out
// or found nobody to answer it (a stream or KV bucket electing a leader,
// NATS reconnecting to another node), or JetStream said it is temporarily
// unable to serve. A cancelled context, a lost compare-and-set, a missing
// key or any other answer of the server is not transient.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if Ambiguous(err) {
		return true
	}
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) {
		return true
	}
	var api *jetstream.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode {
		case codeClusterNotAvailable, codeClusterNotLeader, codeStreamNotCurrent, codeIncomplete:
			return true
		}
		// 503 is "unavailable"; JetStream not being enabled at all is
		// not something that passes while the daemon runs.
		return api.Code == 503 && api.ErrorCode != jetstream.JSErrCodeJetStreamNotEnabled &&
			api.ErrorCode != jetstream.JSErrCodeJetStreamNotEnabledForAccount
	}
	return false
}

// Ambiguous reports whether a request that failed with err may have taken
// effect all the same: it timed out, or the connection dropped while it
// was on its way, so that only its answer may have been lost.
func Ambiguous(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, jetstream.ErrAsyncPublishTimeout) ||
		errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrDisconnected)
}

// Forming reports whether err is one that a JetStream cluster gives while
// it forms, on top of Transient ones: no server reachable yet, not enough
// servers yet to place replicas, JetStream not enabled yet on the server
// answering. At start-up they pass; later they mean a lasting problem. A
// refused sign-in or configuration is not among them.
func Forming(err error) bool {
	if Transient(err) || errors.Is(err, nats.ErrNoServers) {
		return true
	}
	var api *jetstream.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode {
	case codeNoSuitablePeers, jetstream.JSErrCodeJetStreamNotEnabled, jetstream.JSErrCodeJetStreamNotEnabledForAccount:
		return true
	}
	return false
}

// Policy says how to retry an operation.
type Policy struct {
	// For bounds the whole operation, retries included; the caller's
	// context may end it sooner.
	For time.Duration
	// Attempt bounds each try, so that a request lost with a stream's
	// leader is repeated to the next one rather than waited for until
	// For runs out. Zero: For.
	Attempt time.Duration
	// Retryable says which failures to retry.
	Retryable func(error) bool
	// FirstWait and MaxWait bound the pause between attempts, which
	// doubles from FirstWait.
	FirstWait, MaxWait time.Duration
}

// Result says how an operation went.
type Result struct {
	Attempts int
	Took     time.Duration
	// First is the failure of the first attempt, when there were
	// several.
	First error
}

// Do runs op until it succeeds, fails in a way p does not retry, or p.For
// (or ctx) runs out; it returns op's last error, which says it was the
// last of several attempts when there were.
func Do(ctx context.Context, p Policy, op func(ctx context.Context) error) (Result, error) {
	start := time.Now()
	deadline := start.Add(p.For)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	wait := p.FirstWait
	if wait <= 0 {
		wait = 50 * time.Millisecond
	}
	var r Result
	for {
		r.Attempts++
		end := deadline
		if p.Attempt > 0 {
			end = earlier(deadline, time.Now().Add(p.Attempt))
		}
		actx, cancel := context.WithDeadline(ctx, end)
		err := op(actx)
		cancel()
		r.Took = time.Since(start)
		if err == nil {
			return r, nil
		}
		if r.Attempts == 1 {
			r.First = err
		}
		if ctx.Err() != nil || !p.Retryable(err) {
			return r, err
		}
		if !time.Now().Add(wait).Before(deadline) {
			if r.Attempts > 1 {
				err = fmt.Errorf("%w (gave up after %d attempts in %v)", err, r.Attempts, r.Took.Round(time.Millisecond))
			}
			return r, err
		}
		select {
		case <-ctx.Done():
			return r, err
		case <-time.After(wait):
		}
		wait = min(2*wait, max(p.MaxWait, p.FirstWait))
	}
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// StartupAttempt bounds each try of a start-up step: an API request that
// a forming cluster dropped is sent again rather than waited for. When
// replicas create the same stream or bucket at the same moment, JetStream
// answers none of the identical requests (nats-server 2.15), while a
// request repeated once the stream exists is answered at once: a creation
// takes a few hundred milliseconds, so two seconds are plenty for one that
// will be answered and lose little on one that will not.
const StartupAttempt = 2 * time.Second

// Startup runs a start-up step (connecting, creating a stream, a consumer
// or a KV bucket) until it succeeds, fails for good, or ctx ends, pausing
// between tries from a quarter second up to five seconds. Every failure a
// forming cluster gives is retried: replicas that start at the same moment
// as each other, or as the cluster, all come up. Progress is logged as
// info, at most every ten seconds, naming the step.
func Startup(ctx context.Context, log *slog.Logger, step string, op func(ctx context.Context) error) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var lastLog time.Time
	p := Policy{
		For:       time.Until(deadlineOf(ctx)),
		Attempt:   StartupAttempt,
		FirstWait: 250 * time.Millisecond,
		MaxWait:   5 * time.Second,
		Retryable: func(err error) bool {
			if Forming(err) && time.Since(lastLog) >= 10*time.Second {
				lastLog = time.Now()
				log.Info("NATS is not ready yet; retrying", "step", step, "error", err)
			}
			return Forming(err)
		},
	}
	r, err := Do(ctx, p, op)
	if err != nil {
		return err
	}
	if r.Attempts > 1 {
		log.Info("NATS ready", "step", step, "attempts", r.Attempts, "took", r.Took.Round(time.Millisecond))
	}
	return nil
}

// deadlineOf is ctx's deadline, or far away when it has none.
func deadlineOf(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(100 * 365 * 24 * time.Hour)
}
