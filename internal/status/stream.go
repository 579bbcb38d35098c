package status

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/job"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream is the event stream's backlog as the daemons' shared consumer
// sees it.
type Stream struct {
	Name      string `json:"name"`
	Consumer  string `json:"consumer"`
	Retention string `json:"retention"`
	// Pending counts the events and queued re-exports not yet handed to a
	// daemon.
	Pending uint64 `json:"pending"`
	// InProgress counts those handed to a daemon and not settled yet:
	// being exported, or waiting for a retry or another job's lease.
	InProgress  int `json:"in_progress"`
	Redelivered int `json:"redelivered"`
	// Counted is how many waiting events were attributed to accounts (the
	// destinations' Waiting.Events); Complete is false when that was not
	// all of them (more than the reader's MaxScan waited).
	Counted  uint64 `json:"counted"`
	Complete bool   `json:"complete"`
	// WithInProgress is set when the accounts' counts include events in
	// progress too: with workqueue retention the stream holds exactly the
	// events not yet acknowledged, and counting them per account is one
	// request, but which of them a daemon is handling cannot be told.
	WithInProgress bool `json:"with_in_progress,omitempty"`
}

const defaultMaxScan = 10_000

// waiting counts the events waiting per account: of one account, or of
// all when account is empty and all is set. Its cost does not grow with
// the number of accounts: one request for the consumer's state, and only
// when something waits, one for the stream's, then either one request
// (workqueue retention: the stream's message count per subject) or a
// temporary consumer that reads the headers of the waiting events (at
// most MaxScan) from where the shared consumer stands; for one account
// its count alone is enough.
func (r *Reader) waiting(ctx context.Context, account string, all bool) (map[string]int, *Stream, error) {
	if r.JS == nil {
		return nil, nil, nil
	}
	cons, err := r.JS.Consumer(ctx, r.Stream, r.Consumer)
	if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, nil, errNoStream
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read consumer %s: %w", r.Consumer, err)
	}
	info := cons.CachedInfo()
	s := &Stream{Name: r.Stream, Consumer: r.Consumer, Pending: info.NumPending,
		InProgress: info.NumAckPending, Redelivered: info.NumRedelivered, Complete: true}
	counts := map[string]int{}
	if info.NumPending == 0 && info.NumAckPending == 0 || account == "" && !all {
		return counts, s, nil
	}
	st, err := r.JS.Stream(ctx, r.Stream)
	if err != nil {
		return nil, s, fmt.Errorf("read stream %s: %w", r.Stream, err)
	}
	s.Retention = strings.ToLower(strings.TrimSuffix(st.CachedInfo().Config.Retention.String(), "Policy"))
	if st.CachedInfo().Config.Retention == jetstream.WorkQueuePolicy {
		s.WithInProgress = true
		return counts, s, r.countStored(ctx, st, account, counts, s)
	}
	if info.NumPending == 0 {
		return counts, s, nil
	}
	return counts, s, r.countPending(ctx, info, account, counts, s)
}

// countStored counts the messages a workqueue stream holds per account.
func (r *Reader) countStored(ctx context.Context, st jetstream.Stream, account string, counts map[string]int, s *Stream) error {
	filter := ">"
	if account != "" {
		filter = "*.*." + account // both an event's and a queued re-export's subject
	}
	si, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return fmt.Errorf("count the stream's messages per subject: %w", err)
	}
	for subj, n := range si.State.Subjects {
		if a, ok := accountOf(subj); ok && (account == "" || a == account) {
			counts[a] += int(n)
			s.Counted += n
		}
	}
	return nil
}

// countPending counts, per account, the messages after the last one the
// shared consumer handed out, with a temporary consumer that starts there
// and receives headers only.
func (r *Reader) countPending(ctx context.Context, info *jetstream.ConsumerInfo, account string, counts map[string]int, s *Stream) error {
	filters := info.Config.FilterSubjects
	if len(filters) == 0 && info.Config.FilterSubject != "" {
		filters = []string{info.Config.FilterSubject}
	}
	if account != "" {
		filters = []string{event.Subject(account), job.QueueSubjectPrefix + account}
	}
	c, err := r.JS.CreateConsumer(ctx, r.Stream, jetstream.ConsumerConfig{
		Description:       "exportd status: counts the events waiting per account",
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       info.Delivered.Stream + 1,
		AckPolicy:         jetstream.AckNonePolicy,
		FilterSubjects:    filters,
		HeadersOnly:       true,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
		Replicas:          1,
	})
	if err != nil {
		return fmt.Errorf("create a consumer to count waiting events: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = r.JS.DeleteConsumer(dctx, r.Stream, c.CachedInfo().Name) // else it expires after a minute
	}()
	pending := c.CachedInfo().NumPending
	if account != "" {
		counts[account] = int(pending)
		s.Counted = pending
		return nil
	}
	want := min(pending, uint64(r.maxScan()))
	s.Complete = want == pending
	for s.Counted < want {
		batch, err := c.Fetch(int(min(want-s.Counted, 1000)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return fmt.Errorf("read the waiting events: %w", err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			if a, ok := accountOf(m.Subject()); ok {
				counts[a]++
			}
			s.Counted++
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("read the waiting events: %w", err)
		}
		if got == 0 { // fewer than counted at the start: some were purged
			break
		}
	}
	return nil
}

func (r *Reader) maxScan() int {
	if r.MaxScan > 0 {
		return r.MaxScan
	}
	return defaultMaxScan
}

// accountOf is the account of an event's or a queued re-export's subject.
func accountOf(subject string) (string, bool) {
	for _, p := range []string{event.SubjectPrefix, job.QueueSubjectPrefix} {
		if a, ok := strings.CutPrefix(subject, p); ok && event.ValidID(a) {
			return a, true
		}
	}
	return "", false
}
