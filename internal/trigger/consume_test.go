package trigger

import (
	"context"
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
