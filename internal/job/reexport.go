package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/trigger"
)

// ReexportSubjectPrefix starts the request subject of re-exports:
// exportd.reexport.<account>.
const ReexportSubjectPrefix = "exportd.reexport."

// QueueSubjectPrefix starts the subjects on which accepted re-exports are
// queued in the event stream (exportd.requests.<account>), so that they
// are retried and survive crashes like any event.
const QueueSubjectPrefix = "exportd.requests."

// ReexportRequest is the body of a re-export request. Every field is
// optional.
type ReexportRequest struct {
	Destinations []string `json:"destinations,omitempty"`
	Tables       []string `json:"tables,omitempty"`
	// RunID picks the run to export; empty means the account's latest.
	RunID string `json:"run_id,omitempty"`
}

// ReexportReply answers a re-export request at once.
type ReexportReply struct {
	JobID        string   `json:"job_id,omitempty"`
	RunID        string   `json:"run_id,omitempty"`
	Destinations []string `json:"destinations,omitempty"`
	Error        string   `json:"error,omitempty"`
}

// queuedJob is a re-export waiting in the stream.
type queuedJob struct {
	JobID        string                   `json:"job_id"`
	Event        event.ModellingCompleted `json:"event"`
	Destinations []string                 `json:"destinations"`
	Tables       []string                 `json:"tables,omitempty"`
	RequestedAt  time.Time                `json:"requested_at"`
}

// DecodeReexportRequest parses a request body; an empty body asks for
// the defaults.
func DecodeReexportRequest(data []byte) (ReexportRequest, error) {
	var r ReexportRequest
	if len(data) == 0 {
		return r, nil
	}
	if len(data) > event.MaxSize {
		return r, errors.New("request is too large")
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("request is not JSON of the expected shape: %w", err)
	}
	for _, d := range r.Destinations {
		if !event.ValidID(d) {
			return r, fmt.Errorf("destination name %q is not valid", d)
		}
	}
	for _, t := range r.Tables {
		if !event.ValidID(t) {
			return r, fmt.Errorf("table name %q is not valid", t)
		}
	}
	if r.RunID != "" && !event.ValidID(r.RunID) {
		return r, fmt.Errorf("run_id %q is not valid", r.RunID)
	}
	return r, nil
}

func decodeQueuedJob(data []byte) (queuedJob, error) {
	var q queuedJob
	if err := json.Unmarshal(data, &q); err != nil {
		return q, fmt.Errorf("queued re-export is not valid JSON: %w", err)
	}
	if !event.ValidID(q.JobID) || !event.ValidID(q.Event.AccountID) || !event.ValidID(q.Event.RunID) {
		return q, errors.New("queued re-export lacks a valid job, account or run id")
	}
	return q, nil
}

// Reexport accepts a re-export request for an account: it resolves the run
// and destinations, queues the job in the event stream and returns at
// once with the job id. The job then goes through the same path as an
// event; its outcomes appear on exportd.jobs.<account>.<destination>.
func (e *Engine) Reexport(ctx context.Context, account string, req ReexportRequest) ReexportReply {
	fail := func(format string, args ...any) ReexportReply {
		return ReexportReply{Error: fmt.Sprintf(format, args...)}
	}
	if !event.ValidID(account) {
		return fail("account id %q is not valid", account)
	}
	var ev event.ModellingCompleted
	var ok bool
	var err error
	if req.RunID != "" {
		ev, ok, err = e.State.Run(ctx, account, req.RunID)
		if err == nil && !ok {
			return fail("run %s of account %s is not known (runs are remembered for a limited time)", req.RunID, account)
		}
	} else {
		ev, ok, err = e.State.LatestRun(ctx, account)
		if err == nil && !ok {
			return fail("no completed modelling run is known for account %s", account)
		}
	}
	if err != nil {
		return fail("look up the run: %v", err)
	}
	dests := e.destinationsOf(account)
	if len(req.Destinations) > 0 {
		for _, d := range req.Destinations {
			if !slices.Contains(dests, d) {
				return fail("destination %s is not an enabled destination of account %s (have: %s)", d, account, strings.Join(dests, ", "))
			}
		}
		dests = req.Destinations
	}
	if len(dests) == 0 {
		return fail("account %s has no enabled destination", account)
	}
	q := queuedJob{JobID: newID("reexport"), Event: ev, Destinations: dests, Tables: req.Tables, RequestedAt: e.now().UTC()}
	body, _ := json.Marshal(q)
	if err := e.Bus.Enqueue(ctx, QueueSubjectPrefix+account, q.JobID, body); err != nil {
		return fail("queue the re-export: %v", err)
	}
	e.log().Info("re-export queued", "job", q.JobID, "account", account, "run_id", ev.RunID, "destinations", dests)
	return ReexportReply{JobID: q.JobID, RunID: ev.RunID, Destinations: dests}
}

func (e *Engine) handleQueued(ctx context.Context, d trigger.Delivery) trigger.Outcome {
	q, err := decodeQueuedJob(d.Data)
	if err != nil {
		return e.malformed(d, err)
	}
	if d.Subject != QueueSubjectPrefix+q.Event.AccountID {
		return e.malformed(d, fmt.Errorf("re-export for account %s on subject %s", q.Event.AccountID, d.Subject))
	}
	results := e.export(ctx, spec{
		jobID:      q.JobID,
		event:      q.Event,
		dests:      q.Destinations,
		tables:     q.Tables,
		completion: q.JobID,
		attempt:    d.Attempt,
		maxAttempt: e.Config.Jobs.MaxDeliver,
	})
	return e.settle(ctx, results, d.Attempt)
}

// ExportNow exports an account's tables at once, outside the event
// stream, to the named destinations (all of the account's when empty). It
// is the one-shot export of the command line: a run id is made up, the
// shared state is honoured (export times, leases), and the results are
// returned rather than published.
func (e *Engine) ExportNow(ctx context.Context, account string, dests []string) ([]Outcome, error) {
	all := e.destinationsOf(account)
	if len(dests) == 0 {
		dests = all
	}
	if len(dests) == 0 {
		return nil, fmt.Errorf("account %s has no enabled destination", account)
	}
	for _, d := range dests {
		if !slices.Contains(all, d) {
			return nil, fmt.Errorf("destination %s is not an enabled destination of account %s", d, account)
		}
	}
	now := e.now().UTC()
	ev := event.ModellingCompleted{AccountID: account, RunID: newID("manual"), CompletedAt: now}
	if _, err := e.State.RecordRun(ctx, ev); err != nil {
		return nil, err
	}
	jobID := newID("export")
	results := e.export(ctx, spec{jobID: jobID, event: ev, dests: dests, completion: jobID, force: true, attempt: 1, maxAttempt: 1})
	out := make([]Outcome, len(results))
	for i, r := range results {
		out[i] = r.outcome
		out[i].Destination = r.dest
		if r.err != nil {
			out[i].Err = r.err
		}
	}
	return out, nil
}
