package trigger

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/nats-io/nats.go/jetstream"
)

// TestSetupLiftsMaxDeliver: the consumer redelivers without limit (the
// engine counts attempts), also when an older daemon created it with one.
func TestSetupLiftsMaxDeliver(t *testing.T) {
	ctx := context.Background()
	_, js := testsupport.StartNATS(t).Connect(t)
	n := config.NATS{Stream: "EVENTS", Subjects: []string{event.SubjectPrefix + ">"}, Consumer: "c", Replicas: 1,
		MaxAge: time.Hour, DuplicateWindow: time.Hour}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: n.Subjects}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateConsumer(ctx, "EVENTS", jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy,
		MaxDeliver: 5, FilterSubjects: n.Subjects}); err != nil {
		t.Fatal(err)
	}
	cons, err := Setup(ctx, js, n, config.Jobs{AckWait: time.Minute, MaxDeliver: 5})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil || info.Config.MaxDeliver != -1 {
		t.Fatalf("consumer max deliver %d (%v), want -1", info.Config.MaxDeliver, err)
	}
}

// TestConsumeHoldsWorkersDeliveries: as many deliveries as Workers are in
// hand at once, each handled once: acknowledged without waiting for
// JetStream's answer, none comes back after the ack wait.
func TestConsumeHoldsWorkersDeliveries(t *testing.T) {
	ctx := context.Background()
	_, js := testsupport.StartNATS(t).Connect(t)
	n := config.NATS{Stream: "EVENTS", Subjects: []string{event.SubjectPrefix + ">"}, Consumer: "c", Replicas: 1,
		MaxAge: time.Hour, DuplicateWindow: time.Hour}
	cons, err := Setup(ctx, js, n, config.Jobs{AckWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const workers, events = 6, 30
	for i := range events {
		ev := event.ModellingCompleted{AccountID: fmt.Sprintf("a%d", i), RunID: "r", CompletedAt: time.Now().UTC()}
		if _, err := PublishEvent(ctx, js, ev); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	inHand, most := 0, 0
	handled := map[string]int{}
	all := make(chan struct{})
	fetchCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Consume(fetchCtx, ctx, cons, ConsumeOptions{Workers: workers, Heartbeat: time.Second}, func(_ context.Context, d Delivery) Outcome {
			mu.Lock()
			inHand++
			most = max(most, inHand)
			handled[d.Subject]++
			if len(handled) == events {
				select {
				case <-all:
				default:
					close(all)
				}
			}
			mu.Unlock()
			time.Sleep(50 * time.Millisecond) // long enough for the others to be fetched
			mu.Lock()
			inHand--
			mu.Unlock()
			return Ack()
		})
	}()
	select {
	case <-all:
	case <-time.After(time.Minute):
		t.Fatal("not every event was handled within a minute")
	}
	time.Sleep(3 * time.Second) // past the ack wait: an unacknowledged delivery comes back
	stop()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if most != workers {
		t.Errorf("at most %d deliveries in hand at once, want %d", most, workers)
	}
	for subject, n := range handled {
		if n != 1 {
			t.Errorf("%s handled %d times", subject, n)
		}
	}
}
