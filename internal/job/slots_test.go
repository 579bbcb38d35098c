package job

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/testsupport"
)

// TestSlots: small exports take small slots, large ones large slots; as
// many large exports as there are large slots wait, the next is handed
// back; a small export that grows gives its slot back and waits for a
// large one.
func TestSlots(t *testing.T) {
	ctx := context.Background()
	s := NewSlots(1, 2, 100)
	if got := s.Deliveries(); got != 4 {
		t.Fatalf("deliveries %d, want 4", got)
	}
	enter := func(rows int64) *slot {
		t.Helper()
		sl, err := s.enter(ctx, rows)
		if err != nil {
			t.Fatalf("enter with %d rows: %v", rows, err)
		}
		return sl
	}
	small1, small2 := enter(-1), enter(100)
	if small1.large || small2.large || !small1.watch() {
		t.Fatal("small exports took large slots")
	}
	big := enter(101)
	if !big.large || big.watch() {
		t.Fatal("a large export took a small slot")
	}
	// Both small slots are taken: a third small export waits.
	waiting := make(chan *slot)
	go func() {
		sl, _ := s.enter(ctx, 5)
		waiting <- sl
	}()
	// One large export waits for the large slot; the next is handed back.
	bigWaiting := make(chan *slot)
	go func() {
		sl, _ := s.enter(ctx, 1000)
		bigWaiting <- sl
	}()
	for s.waiting.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	if _, err := s.enter(ctx, 1000); !errors.Is(err, errSlotsBusy) {
		t.Fatalf("a large export beyond the waiting places: %v", err)
	}
	// small1 grows: its small slot goes to the waiting small export, and
	// it waits for the large slot with the large export that waited.
	grown := make(chan error)
	go func() { grown <- small1.grown(ctx) }()
	third := <-waiting
	if third.large {
		t.Fatal("the waiting small export took a large slot")
	}
	big.leave()
	select {
	case next := <-bigWaiting:
		next.leave()
		if err := <-grown; err != nil || !small1.large {
			t.Fatalf("the grown export did not get a large slot: %v", err)
		}
	case err := <-grown:
		if err != nil || !small1.large {
			t.Fatalf("the grown export did not get a large slot: %v", err)
		}
		small1.leave()
		(<-bigWaiting).leave()
		small1 = enter(1000)
	}
	// A grown export's second report changes nothing; leaving gives the
	// large slot back.
	if err := small1.grown(ctx); err != nil {
		t.Fatal(err)
	}
	small1.leave()
	again := enter(1000)
	again.leave()
	small2.leave()
	third.leave()
	// Every slot is free again.
	for range 2 {
		enter(1)
	}
	enter(1000)
	// Waiting for a slot ends with ctx.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.enter(cctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("enter with a cancelled context: %v", err)
	}
}

// TestLargeExportsTakeTheirTurn: an account's first export, of unknown
// size, starts in a small slot and moves to the large one as it grows;
// its next export is known to be large from the rows of its last dump.
// When the large slot is taken and its waiting place too, that export is
// handed back to the stream to come back, and exports once it can run.
func TestLargeExportsTakeTheirTurn(t *testing.T) {
	f := newFixture(t, `backoff = ["1s"]`, "a")
	var logs testsupport.LogBuffer
	f.e.Log = slog.New(slog.NewTextHandler(&logs, nil))
	f.e.Slots = NewSlots(1, 1, 5000) // the fixture's exports encode 8,360 rows
	ctx := context.Background()
	ev := event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: time.Now().UTC().Add(-time.Minute)}
	if out := f.e.Handle(ctx, delivery(ev, 1)); out.String() != "ack" {
		t.Fatalf("first export: %v", out)
	}
	if got := strings.Count(logs.String(), "continues in a large slot"); got != 1 {
		t.Fatalf("the first export moved to a large slot %d times, want once:\n%s", got, logs.String())
	}

	// Another export holds the large slot, a third waits for it.
	held, err := f.e.Slots.enter(ctx, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	waiter := make(chan *slot)
	go func() {
		sl, _ := f.e.Slots.enter(ctx, 1<<40)
		waiter <- sl
	}()
	for f.e.Slots.waiting.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	f.clock.set(f.clock.Now().Add(time.Minute))
	ev2 := event.ModellingCompleted{AccountID: "acme", RunID: "r2", CompletedAt: time.Now().UTC().Add(-time.Second)}
	if out := f.e.Handle(ctx, delivery(ev2, 1)); out.String() != "retry in 1s" {
		t.Fatalf("a large export while the large slot is taken and waited for: %v", out)
	}
	_, before, _ := f.receipt("a")
	held.leave()
	(<-waiter).leave()
	if out := f.e.Handle(ctx, delivery(ev2, 2)); out.String() != "ack" {
		t.Fatalf("the large export once the slot is free: %v", out)
	}
	if _, after, _ := f.receipt("a"); !after.After(before) {
		t.Fatalf("the second run was not exported: receipt time %v, before %v", after, before)
	}
}
