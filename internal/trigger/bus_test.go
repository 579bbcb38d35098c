package trigger

import (
	"context"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/testsupport"
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
