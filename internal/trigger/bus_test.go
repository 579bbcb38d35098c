package trigger

import (
	"context"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestRunIDsDeduplicatePerAccount: two accounts' runs with the same id
// are both kept; the same account's run published twice is kept once.
func TestRunIDsDeduplicatePerAccount(t *testing.T) {
	ctx := context.Background()
	_, js := testsupport.StartNATS(t).Connect(t)
	n := config.NATS{Stream: "EVENTS", Subjects: []string{event.SubjectPrefix + ">"}, Consumer: "c", Replicas: 1,
		MaxAge: time.Hour, DuplicateWindow: time.Hour}
	if _, err := Setup(ctx, js, n, config.Jobs{AckWait: time.Minute}); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC()
	publish := func(account string) uint64 {
		t.Helper()
		seq, err := PublishEvent(ctx, js, event.ModellingCompleted{AccountID: account, RunID: "17", CompletedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	a, b, again := publish("acme"), publish("globex"), publish("acme")
	if a == b {
		t.Fatalf("globex's run 17 was dropped as a duplicate of acme's (both at sequence %d)", a)
	}
	if again != a {
		t.Fatalf("acme's run 17 published twice was stored twice (%d, %d)", a, again)
	}
	s, err := js.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil || info.State.Msgs != 2 {
		t.Fatalf("stream holds %v messages (%v), want 2", info.State.Msgs, err)
	}
}

// TestEnqueueRidesOutAnElection: a message queued right after the event
// stream's leader was killed is stored once the next leader is elected,
// and only once.
func TestEnqueueRidesOutAnElection(t *testing.T) {
	c := testsupport.StartNATSCluster(t, testsupport.NATSClusterOptions{})
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := config.NATS{Stream: "EVENTS", Subjects: []string{event.SubjectPrefix + ">"}, Consumer: "c", Replicas: 3,
		MaxAge: time.Hour, DuplicateWindow: time.Hour}
	for {
		if _, err = Setup(ctx, js, n, config.Jobs{AckWait: time.Minute}, "queue.>"); err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(250 * time.Millisecond) // the cluster may still be placing replicas
	}
	if err != nil {
		t.Fatal(err)
	}
	leader, _, err := c.WaitNewLeader(ctx, "EVENTS", -1)
	if err != nil {
		t.Fatal(err)
	}
	b := &Bus{NC: nc, JS: js, Stream: "EVENTS"}
	c.Kill(leader)
	start := time.Now()
	if err := b.Enqueue(ctx, "queue.acme", "job-1", []byte("{}")); err != nil {
		t.Fatalf("enqueue during the election: %v", err)
	}
	t.Logf("queued %v after the leader was killed", time.Since(start).Round(time.Millisecond))
	if err := b.Enqueue(ctx, "queue.acme", "job-1", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil || info.State.Msgs != 1 {
		t.Fatalf("stream holds %v messages (%v), want 1", info.State.Msgs, err)
	}
}
