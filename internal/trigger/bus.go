package trigger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/jsretry"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bus publishes outcomes and advisories, queues messages in the event
// stream, and looks up the newest event of an account.
type Bus struct {
	NC     *nats.Conn
	JS     jetstream.JetStream
	Stream string
	Log    *slog.Logger // optional

	mu     sync.Mutex
	handle jetstream.Stream // looked up once: a look-up is a request

	outMu sync.Mutex
	out   *outbox
}

// Publish queues a core NATS message; it is sent at once and sent again if
// the connection breaks before the server confirms it (see outbox), so a
// subscriber may receive it twice but a NATS node dying does not lose it.
// Close sends what is still queued.
func (b *Bus) Publish(subject string, data []byte) error {
	b.outMu.Lock()
	if b.out == nil {
		b.out = newOutbox(b.NC, b.Log)
	}
	o := b.out
	b.outMu.Unlock()
	return o.publish(subject, data)
}

// Close waits, until ctx ends, for NATS to confirm the messages Publish
// queued, and reports how many it did not. The connection stays open.
func (b *Bus) Close(ctx context.Context) error {
	b.outMu.Lock()
	o := b.out
	b.outMu.Unlock()
	if o == nil {
		return nil
	}
	return o.close(ctx)
}

// enqueueFor bounds how long Enqueue retries while the stream elects a
// leader (the caller's context may end it sooner): a re-export request is
// answered while its requester waits.
const enqueueFor = 15 * time.Second

// Enqueue stores a message in the stream, de-duplicated by msgID. While
// the stream elects a leader it sends the message again, which the
// de-duplication makes safe even when an earlier try was stored and only
// its answer was lost.
func (b *Bus) Enqueue(ctx context.Context, subject, msgID string, data []byte) error {
	_, err := jsretry.Do(ctx, jsretry.Policy{For: enqueueFor, Attempt: 2 * time.Second, Retryable: jsretry.Transient, MaxWait: time.Second},
		func(ctx context.Context) error {
			_, err := b.JS.Publish(ctx, subject, data, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(b.Stream))
			return err
		})
	if err != nil {
		return fmt.Errorf("queue %s in stream %s: %w", subject, b.Stream, err)
	}
	return nil
}

// LastEvent returns the newest well-formed event in the stream for an
// account, with its stream sequence.
func (b *Bus) LastEvent(ctx context.Context, account string) (event.ModellingCompleted, uint64, bool, error) {
	s, err := b.stream(ctx)
	if err != nil {
		return event.ModellingCompleted{}, 0, false, err
	}
	m, err := s.GetLastMsgForSubject(ctx, event.Subject(account))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return event.ModellingCompleted{}, 0, false, nil
	}
	if err != nil {
		return event.ModellingCompleted{}, 0, false, err
	}
	ev, err := event.Decode(m.Subject, m.Data)
	if err != nil || event.CheckCompletedAt(ev, m.Time) != nil {
		return event.ModellingCompleted{}, 0, false, nil // a malformed event supersedes nothing
	}
	return ev, m.Sequence, true, nil
}

// stream returns the event stream's handle, looking it up the first time.
func (b *Bus) stream(ctx context.Context) (jetstream.Stream, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.handle == nil {
		s, err := b.JS.Stream(ctx, b.Stream)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", b.Stream, err)
		}
		b.handle = s
	}
	return b.handle, nil
}

// PublishEvent publishes a modelling-complete event into the stream with
// event.MsgID (account and run id) as the de-duplication id, and returns
// its stream sequence.
func PublishEvent(ctx context.Context, js jetstream.JetStream, ev event.ModellingCompleted) (uint64, error) {
	ack, err := js.Publish(ctx, event.Subject(ev.AccountID), ev.Encode(), jetstream.WithMsgID(event.MsgID(ev)))
	if err != nil {
		return 0, fmt.Errorf("publish event: %w", err)
	}
	return ack.Sequence, nil
}
