package trigger

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Outbox limits.
const (
	// outboxConfirmWithin bounds the wait for the server's answer to the
	// PING that follows a batch; past it the batch is sent again.
	outboxConfirmWithin = 10 * time.Second
	// outboxMax is the most messages waiting; past it the oldest are
	// dropped, so that a long outage cannot grow the daemon without bound.
	outboxMax = 10_000
	// outboxRetryWait is how often a disconnected outbox looks again.
	outboxRetryWait = 100 * time.Millisecond
)

// outbox sends core NATS messages and confirms that the server received
// them: a batch is followed by a PING, and when the connection breaks
// before the PONG (the server died with the bytes in flight) the batch is
// sent again once the client has reconnected. A message thus reaches NATS
// at least once, or is reported lost at Close. A batch sent again may
// reach subscribers twice.
type outbox struct {
	nc  *nats.Conn
	log *slog.Logger

	mu      sync.Mutex
	queue   []outMsg
	dropped int
	closing sync.Once

	wake    chan struct{} // a message was queued
	stop    chan struct{} // closed by close: send what is queued, then end
	abandon chan struct{} // closed by close past its deadline: end now
	done    chan struct{} // closed when run ends
	lost    int           // set by run before done: messages never confirmed
}

type outMsg struct {
	subject string
	data    []byte
}

func newOutbox(nc *nats.Conn, log *slog.Logger) *outbox {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o := &outbox{
		nc: nc, log: log,
		wake: make(chan struct{}, 1), stop: make(chan struct{}),
		abandon: make(chan struct{}), done: make(chan struct{}),
	}
	go o.run()
	return o
}

// publish queues a message; it never blocks on the network.
func (o *outbox) publish(subject string, data []byte) error {
	select {
	case <-o.stop:
		return fmt.Errorf("publish %s: %w", subject, nats.ErrConnectionClosed)
	default:
	}
	o.mu.Lock()
	o.queue = append(o.queue, outMsg{subject, data})
	if n := len(o.queue) - outboxMax; n > 0 {
		o.queue = append(o.queue[:0], o.queue[n:]...)
		o.dropped += n
	}
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

func (o *outbox) run() {
	defer close(o.done)
	stopping := false
	for {
		o.mu.Lock()
		for len(o.queue) == 0 && !stopping {
			o.mu.Unlock()
			select {
			case <-o.wake:
			case <-o.stop:
				stopping = true
			}
			o.mu.Lock()
		}
		batch, dropped := o.queue, o.dropped
		o.queue, o.dropped = nil, 0
		o.mu.Unlock()
		if dropped > 0 {
			o.log.Warn("NATS unreachable too long: oldest outcome messages dropped", "dropped", dropped, "kept", outboxMax)
		}
		if len(batch) == 0 {
			return
		}
		if !o.deliver(batch) {
			o.mu.Lock()
			o.lost = len(batch) + len(o.queue)
			o.mu.Unlock()
			return
		}
	}
}

// deliver sends a batch until the server confirms it, and reports false
// when it was abandoned or the connection closed for good.
func (o *outbox) deliver(batch []outMsg) bool {
	for tries := 1; ; tries++ {
		if o.send(batch) == nil {
			if tries > 1 {
				o.log.Info("outcome messages sent again after a lost connection", "messages", len(batch), "tries", tries)
			}
			return true
		}
		if !o.pause() {
			return false
		}
		for !o.nc.IsConnected() {
			if !o.pause() {
				return false
			}
		}
	}
}

// pause waits a moment, and reports false when the outbox was abandoned
// or its connection closed for good.
func (o *outbox) pause() bool {
	if o.nc.IsClosed() {
		return false
	}
	select {
	case <-o.abandon:
		return false
	case <-time.After(outboxRetryWait):
		return true
	}
}

// send publishes a batch and waits for the server to answer a PING sent
// after it: the server has then read every message of the batch.
func (o *outbox) send(batch []outMsg) error {
	for _, m := range batch {
		if err := o.nc.Publish(m.subject, m.data); err != nil {
			return err
		}
	}
	return o.nc.FlushTimeout(outboxConfirmWithin)
}

// close sends what is queued and waits for the server's confirmation
// until ctx ends; it reports the messages left unconfirmed.
func (o *outbox) close(ctx context.Context) error {
	o.closing.Do(func() { close(o.stop) })
	select {
	case <-o.done:
	case <-ctx.Done():
		close(o.abandon)
		<-o.done
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.lost > 0 {
		return fmt.Errorf("%d outcome messages not confirmed by NATS", o.lost)
	}
	return nil
}
