package notify

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/testsupport"
)

// TestRecovered: a commit after failures for good is posted as a
// recovery, once, with when the failures began and how many there were;
// the next commit is a plain commit again. A notifier that selects commits
// but not recoveries gets the recovering commit as a commit.
func TestRecovered(t *testing.T) {
	n := testsupport.StartNATS(t)
	_, js := n.Connect(t)
	h, err := OpenHistory(t.Context(), js, "test", 1)
	if err != nil {
		t.Fatal(err)
	}
	both := newReceiver(t, nil)
	commitsOnly := newReceiver(t, nil)
	cfgCommits := webhookConfig(commitsOnly.srv.URL, config.NotifyCommitted)
	cfgCommits.Name = "commits"
	d := start(t, Options{
		Notifiers: []config.Notify{webhookConfig(both.srv.URL, config.NotifyFailed, config.NotifyRecovered, config.NotifyCommitted), cfgCommits},
		History:   h,
	})

	d.Outcome(failed("acme-s3", true))
	d.Outcome(failed("acme-s3", true))
	d.Outcome(committed("acme-s3"))
	d.Outcome(committed("acme-s3"))

	var events []Payload
	for range 4 {
		var p Payload
		if err := json.Unmarshal(both.next(t).body, &p); err != nil {
			t.Fatal(err)
		}
		events = append(events, p)
	}
	want := []string{config.NotifyFailed, config.NotifyFailed, config.NotifyRecovered, config.NotifyCommitted}
	for i, p := range events {
		if p.Event != want[i] {
			t.Fatalf("event %d is %q, want %q (all: %+v)", i, p.Event, want[i], events)
		}
	}
	rec := events[2]
	if rec.Failures != 2 || rec.FailedSince.IsZero() || rec.FailedSince.After(rec.OccurredAt) || rec.Location == "" {
		t.Fatalf("recovery payload %+v", rec)
	}
	for range 2 {
		var p Payload
		if err := json.Unmarshal(commitsOnly.next(t).body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Event != config.NotifyCommitted {
			t.Fatalf("commits-only notifier got %q", p.Event)
		}
	}
}

// TestRecoveredAcrossReplicas: the failure is seen by one daemon and the
// commit by another; the second reports the recovery, and only one of
// two daemons committing reports it.
func TestRecoveredAcrossReplicas(t *testing.T) {
	n := testsupport.StartNATS(t)
	_, js := n.Connect(t)
	open := func() *History {
		h, err := OpenHistory(t.Context(), js, "test", 1)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h1, h2 := open(), open()
	if err := h1.Failed(t.Context(), "d", time.Unix(1000, 0)); err != nil {
		t.Fatal(err)
	}
	since, failures, ok, err := h2.Committed(t.Context(), "d")
	if err != nil || !ok || failures != 1 || !since.Equal(time.Unix(1000, 0)) {
		t.Fatalf("second replica: since %v failures %d recovered %v err %v", since, failures, ok, err)
	}
	if _, _, ok, err := h1.Committed(t.Context(), "d"); ok || err != nil {
		t.Fatalf("first replica also told of the recovery (err %v)", err)
	}

	// Through two dispatchers, as two daemons would.
	rc := newReceiver(t, nil)
	cfg := webhookConfig(rc.srv.URL, config.NotifyRecovered)
	d1 := start(t, Options{Notifiers: []config.Notify{cfg}, History: h1})
	d2 := start(t, Options{Notifiers: []config.Notify{cfg}, History: h2})
	d1.Outcome(failed("acme-s3", true))
	d1.Close(t.Context()) // the failure is recorded
	d2.Outcome(committed("acme-s3"))
	var p Payload
	if err := json.Unmarshal(rc.next(t).body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Event != config.NotifyRecovered || p.Failures != 1 {
		t.Fatalf("got %+v", p)
	}
}
