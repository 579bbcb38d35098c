package job

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// Slots decide which exports run at once, by their expected size, so that
// one account's multi-million-row export does not hold up a fleet of small
// ones:
//
//   - a small export (its destinations' last dumps held at most SmallRows
//     rows, or it has none yet) takes one of many small slots: it spends
//     its time waiting for NATS, the plugin and the disk, and needs
//     concurrency rather than cores;
//   - a large export takes one of a few large slots, which bound the CPU
//     and memory that encoding takes. When they are all taken, as many
//     large exports again may wait for one; further ones are handed back
//     to the stream to come back later (not an attempt);
//   - a small export that encodes more than SmallRows rows (an account's
//     first export, or an account that grew) gives its small slot back and
//     waits, where it stands, for a large slot.
//
// The trigger fetches as many deliveries as there are slots and waiting
// places, so that fetching never waits behind a large export.
type Slots struct {
	// SmallRows is the most rows a small export encodes.
	SmallRows int64

	small   chan struct{}
	large   chan struct{}
	waiting atomic.Int64 // large exports waiting for a slot
	maxWait int64
}

// NewSlots returns slots for large and small exports at once; as many
// large exports as there are large slots may wait for one.
func NewSlots(large, small int, smallRows int64) *Slots {
	large, small = max(large, 1), max(small, 1)
	return &Slots{
		SmallRows: smallRows,
		small:     make(chan struct{}, small),
		large:     make(chan struct{}, large),
		maxWait:   int64(large),
	}
}

// Deliveries is how many deliveries the trigger should hold at once: one
// per slot and per waiting place.
func (s *Slots) Deliveries() int { return cap(s.small) + 2*cap(s.large) }

// errSlotsBusy hands a large export back to the stream.
var errSlotsBusy = errors.New("every slot for large exports is taken and as many large exports wait for one; the export will come back")

// enter takes a slot for an export expected to encode rows rows (negative
// when unknown), waiting until one is free or ctx is done. It returns
// errSlotsBusy when a large export can neither run nor wait. A nil Slots
// lets every export run.
func (s *Slots) enter(ctx context.Context, rows int64) (*slot, error) {
	if s == nil {
		return nil, nil
	}
	if rows <= s.SmallRows {
		select {
		case s.small <- struct{}{}:
			return &slot{s: s}, nil
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	select {
	case s.large <- struct{}{}:
		return &slot{s: s, large: true}, nil
	default:
	}
	for {
		n := s.waiting.Load()
		if n >= s.maxWait {
			return nil, errSlotsBusy
		}
		if s.waiting.CompareAndSwap(n, n+1) {
			break
		}
	}
	defer s.waiting.Add(-1)
	select {
	case s.large <- struct{}{}:
		return &slot{s: s, large: true}, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// slot is the slot an export holds.
type slot struct {
	s     *Slots
	large bool

	grow    sync.Once
	growErr error
	held    bool // after grown: whether it holds a slot
}

// grown moves a small export that has encoded more than SmallRows rows to
// a large slot: it gives its small slot back and waits for a large one.
// Its error (ctx done meanwhile) is the export's.
func (sl *slot) grown(ctx context.Context) error {
	sl.grow.Do(func() {
		if sl.large {
			sl.held = true
			return
		}
		<-sl.s.small
		sl.s.waiting.Add(1)
		defer sl.s.waiting.Add(-1)
		select {
		case sl.s.large <- struct{}{}:
			sl.large, sl.held = true, true
		case <-ctx.Done():
			sl.growErr = context.Cause(ctx)
		}
	})
	return sl.growErr
}

// watch reports whether the export should tell the slot once it grows.
func (sl *slot) watch() bool { return sl != nil && !sl.large }

// leave gives the slot back.
func (sl *slot) leave() {
	if sl == nil {
		return
	}
	sl.grow.Do(func() { sl.held = true }) // no growing after the export
	if !sl.held {
		return
	}
	if sl.large {
		<-sl.s.large
	} else {
		<-sl.s.small
	}
}
