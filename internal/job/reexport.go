package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/state"
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
	// Joined is set when the request joined a re-export queued before and
	// not started yet, whose job id it got: one export serves both.
	Joined bool   `json:"joined,omitempty"`
	Error  string `json:"error,omitempty"`
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
// and destinations, and either joins a re-export of them queued before and
// not started yet, or queues a new job in the event stream, within the
// account's rate limit. It returns at once with the job id. The job then
// goes through the same path as an event; its outcomes appear on
// exportd.jobs.<account>.<destination>.
func (e *Engine) Reexport(ctx context.Context, account string, req ReexportRequest) ReexportReply {
	fail := func(format string, args ...any) ReexportReply {
		return ReexportReply{Error: fmt.Sprintf(format, args...)}
	}
	if !event.ValidID(account) {
		return fail("account id %q is not valid", account)
	}
	ev, err := e.reexportRun(ctx, account, req.RunID)
	if err != nil {
		return fail("%v", err)
	}
	set := e.Catalog.Destinations(account)
	defer set.release()
	dests, err := reexportDestinations(set, account, req.Destinations)
	if err != nil {
		return fail("%v", err)
	}
	tables := normalizeTables(req.Tables)
	if err := e.checkSubset(ctx, ev, set, dests, tables); err != nil {
		return fail("%v", err)
	}
	now := e.now().UTC()
	fresh := state.PendingReexport{JobID: newID("reexport"), RunID: ev.RunID, Destinations: dests, Tables: tables, RequestedAt: now}
	job, joined, err := e.State.QueueReexport(ctx, account, fresh, covers(fresh), e.rateLimit(), now)
	switch {
	case errors.Is(err, state.ErrRateLimited):
		return fail("%v", err)
	case err != nil:
		return fail("queue the re-export: %v", err)
	case joined:
		e.log().Info("re-export joined a queued one", "job", job.JobID, "account", account, "run_id", ev.RunID, "destinations", dests)
		return ReexportReply{JobID: job.JobID, RunID: ev.RunID, Destinations: dests, Joined: true}
	}
	if err := e.enqueue(ctx, ev, fresh); err != nil {
		return fail("queue the re-export: %v", err)
	}
	e.log().Info("re-export queued", "job", fresh.JobID, "account", account, "run_id", ev.RunID, "destinations", dests, "tables", tables)
	return ReexportReply{JobID: fresh.JobID, RunID: ev.RunID, Destinations: dests}
}

// reexportRun resolves the run a re-export asks for: the named one, or
// the account's latest. A run dated in the future is refused, as its
// event would be.
func (e *Engine) reexportRun(ctx context.Context, account, runID string) (event.ModellingCompleted, error) {
	var ev event.ModellingCompleted
	var ok bool
	var err error
	if runID != "" {
		ev, ok, err = e.State.Run(ctx, account, runID)
		if err == nil && !ok {
			return ev, fmt.Errorf("run %s of account %s is not known (runs are remembered for a limited time)", runID, account)
		}
	} else {
		ev, ok, err = e.State.LatestRun(ctx, account)
		if err == nil && !ok {
			return ev, fmt.Errorf("no completed modelling run is known for account %s", account)
		}
	}
	if err != nil {
		return ev, fmt.Errorf("look up the run: %w", err)
	}
	if err := event.CheckCompletedAt(ev, e.now()); err != nil {
		return ev, fmt.Errorf("run %s: %w", ev.RunID, err)
	}
	return ev, nil
}

// reexportDestinations checks the requested destinations against the
// account's enabled ones (all of them when none are named).
func reexportDestinations(set *DestinationSet, account string, requested []string) ([]string, error) {
	dests := set.Names()
	if len(requested) > 0 {
		for _, d := range requested {
			if !slices.Contains(dests, d) {
				return nil, fmt.Errorf("destination %s is not an enabled destination of account %s (have: %s)", d, account, strings.Join(dests, ", "))
			}
		}
		dests = requested
	}
	if len(dests) == 0 {
		return nil, fmt.Errorf("account %s has no enabled destination", account)
	}
	return dests, nil
}

// checkSubset refuses, at once, a re-export of some tables that could not
// be completed into a full dump for one of the destinations.
func (e *Engine) checkSubset(ctx context.Context, ev event.ModellingCompleted, set *DestinationSet, dests, tables []string) error {
	if len(tables) == 0 {
		return nil
	}
	for _, name := range dests {
		cfg, _ := set.Lookup(name)
		ds, err := e.State.Destination(ctx, name)
		if err != nil {
			return fmt.Errorf("look up destination %s: %w", name, err)
		}
		if _, err := carriedTables(name, ds, ev.RunID, cfg.Tables, intersect(tables, cfg.Tables)); err != nil {
			return err
		}
	}
	return nil
}

// enqueue puts a new re-export job into the stream and marks it queued,
// so that requests can join it; a job that could not be queued gives its
// place in the rate limit back.
func (e *Engine) enqueue(ctx context.Context, ev event.ModellingCompleted, p state.PendingReexport) error {
	q := queuedJob{JobID: p.JobID, Event: ev, Destinations: p.Destinations, Tables: p.Tables, RequestedAt: p.RequestedAt}
	body, _ := json.Marshal(q)
	if err := e.Bus.Enqueue(ctx, QueueSubjectPrefix+ev.AccountID, q.JobID, body); err != nil {
		if ferr := e.State.ReexportNotQueued(context.WithoutCancel(ctx), ev.AccountID, q.JobID); ferr != nil {
			e.log().Warn("forgetting a re-export that was not queued failed", "job", q.JobID, "error", ferr)
		}
		return err
	}
	if err := e.State.MarkReexportQueued(ctx, ev.AccountID, q.JobID); err != nil {
		e.log().Warn("marking a re-export queued failed; requests in the next minute may still join it", "job", q.JobID, "error", err)
	}
	return nil
}

// normalizeTables sorts a table subset and drops repeats.
func normalizeTables(tables []string) []string {
	if len(tables) == 0 {
		return nil
	}
	out := slices.Clone(tables)
	sort.Strings(out)
	return slices.Compact(out)
}

func (e *Engine) handleQueued(ctx context.Context, d trigger.Delivery) trigger.Outcome {
	q, err := decodeQueuedJob(d.Data)
	if err == nil && d.Subject != QueueSubjectPrefix+q.Event.AccountID {
		err = fmt.Errorf("re-export for account %s on subject %s", q.Event.AccountID, d.Subject)
	}
	if err == nil {
		err = event.CheckCompletedAt(q.Event, e.published(d))
	}
	if err != nil {
		return e.malformed(d, err)
	}
	started := func(ctx context.Context) {
		if err := e.State.ReexportStarted(ctx, q.Event.AccountID, q.JobID); err != nil {
			e.log().Warn("marking a re-export started failed", "job", q.JobID, "error", err)
		}
	}
	results := e.export(ctx, spec{
		jobID:      q.JobID,
		event:      q.Event,
		dests:      q.Destinations,
		tables:     q.Tables,
		completion: q.JobID,
		maxAttempt: e.Config.Jobs.MaxDeliver,
		// From the moment the job reads its data, later requests get a
		// job of their own rather than join this one.
		starting: started,
	})
	if !comingBack(results) {
		started(ctx) // over without reading anything: nobody may join it
	}
	return e.settle(results)
}

// comingBack reports whether the delivery will come back for one of the
// destinations.
func comingBack(results []result) bool {
	for _, r := range results {
		if r.retryIn >= 0 {
			return true
		}
	}
	return false
}

// ExportNow exports an account's tables at once, outside the event
// stream, to the named destinations (all of the account's when empty). It
// is the one-shot export of the command line: a run id is made up, the
// shared state is honoured (export times, leases), and the results are
// returned rather than published.
func (e *Engine) ExportNow(ctx context.Context, account string, dests []string) ([]Outcome, error) {
	set := e.Catalog.Destinations(account)
	defer set.release()
	all := set.Names()
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
	if _, err := e.State.RecordRun(ctx, ev, e.notAfter()); err != nil {
		return nil, err
	}
	jobID := newID("export")
	results := e.export(ctx, spec{jobID: jobID, event: ev, dests: dests, set: set, completion: jobID, force: true, maxAttempt: 1})
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
