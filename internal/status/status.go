// Package status builds an operator's view of the fleet from the shared
// state and the event stream: per destination its last dump, its last
// failure and the attempts it took, the export in flight and the replica
// that holds it, and the events waiting for its account. The exportd
// status command prints it; the operations endpoint serves it as JSON on
// /v1/status.
//
// It only reads. It knows the destinations from a Catalog (the
// configuration today), adds those the shared state remembers, and reads
// each bucket it needs once, whatever the number of destinations.
package status

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/state"
	"github.com/nats-io/nats.go/jetstream"
)

// Entry is a destination as a Catalog knows it.
type Entry struct {
	Name    string
	Account string
	Plugin  string
	Enabled bool
}

// Catalog lists the destinations the daemons export to.
type Catalog interface {
	Entries() []Entry
}

// ConfigCatalog lists the destinations of a configuration.
type ConfigCatalog struct{ Config *config.Config }

var _ Catalog = ConfigCatalog{}

// Entries implements Catalog.
func (c ConfigCatalog) Entries() []Entry {
	out := make([]Entry, len(c.Config.Destinations))
	for i, d := range c.Config.Destinations {
		out[i] = Entry{Name: d.Name, Account: d.Account, Plugin: d.Plugin, Enabled: d.Enabled}
	}
	return out
}

// Query narrows a report to an account or a destination; empty fields
// mean all.
type Query struct {
	Account     string
	Destination string
}

// Reader reads reports. Its fields are set once before use.
type Reader struct {
	State *state.Store
	// JS, Stream and Consumer locate the event stream and the daemons'
	// shared consumer; without JS the report has no stream section.
	JS       jetstream.JetStream
	Stream   string
	Consumer string
	// Catalog lists the known destinations; nil: those in the state.
	Catalog Catalog
	// MaxScan bounds the waiting events read to count them per account
	// (10,000 when zero); beyond it the counts are marked incomplete.
	MaxScan int
	// Now tells the time; nil means time.Now.
	Now func() time.Time
}

// Report is the fleet's status at one moment.
type Report struct {
	GeneratedAt time.Time `json:"generated_at"`
	// Stream is the event stream's backlog; nil when it could not be read.
	Stream       *Stream       `json:"stream,omitempty"`
	Destinations []Destination `json:"destinations"`
	// Warnings say which parts could not be read.
	Warnings []string `json:"warnings,omitempty"`
}

// Destination is one destination's status.
type Destination struct {
	Name    string `json:"name"`
	Account string `json:"account,omitempty"`
	Plugin  string `json:"plugin,omitempty"`
	Enabled bool   `json:"enabled"`
	// Configured is false for a destination the shared state remembers
	// but no daemon's catalog names (removed, or renamed).
	Configured bool `json:"configured"`
	// State sums the rest up: one of the State values.
	State       string       `json:"state"`
	LastDump    *Dump        `json:"last_dump,omitempty"`
	LastFailure *Failure     `json:"last_failure,omitempty"`
	InFlight    *InFlight    `json:"in_flight,omitempty"`
	Committing  *Committing  `json:"committing,omitempty"`
	LatestRun   *Run         `json:"latest_run,omitempty"`
	Waiting     WaitingCount `json:"waiting"`
}

// The values of Destination.State.
const (
	// StateOK: the last dump committed and no failure since.
	StateOK = "ok"
	// StateNoDump: nothing was ever committed, nor tried.
	StateNoDump = "no-dump"
	// StateExporting: a job holds the destination's lease.
	StateExporting = "exporting"
	// StateCommitPending: a commit was recorded as about to happen and
	// no job holds the lease: a daemon died during it, and the next
	// delivery makes the same dump visible again.
	StateCommitPending = "commit-pending"
	// StateRetrying: the last attempt failed; another will follow.
	StateRetrying = "retrying"
	// StateFailed: the last export was given up for good.
	StateFailed = "failed"
	// StateDisabled: the catalog has the destination disabled.
	StateDisabled = "disabled"
)

// Dump is a destination's last committed dump.
type Dump struct {
	// Time is the export time T: the dump's minute folder and the
	// receipt's timestamp.
	Time  time.Time `json:"time"`
	RunID string    `json:"run_id"`
	// Completion is the run id, or the re-export's job id.
	Completion string `json:"completion,omitempty"`
	Location   string `json:"location,omitempty"`
	// Files, Rows and Bytes count every table the receipt names, carried
	// ones included; CarriedTables counts the tables a re-export of some
	// tables kept from earlier dumps.
	Files         int   `json:"files"`
	Rows          int64 `json:"rows"`
	Bytes         int64 `json:"bytes"`
	Tables        int   `json:"tables"`
	CarriedTables int   `json:"carried_tables,omitempty"`
}

// Failure is a destination's last failed attempt.
type Failure struct {
	state.Failure
	// Current is set when no dump has committed since.
	Current bool `json:"current"`
}

// InFlight is the export holding a destination's lease.
type InFlight struct {
	JobID string `json:"job_id"`
	// Replica is the holder: host:pid of the daemon.
	Replica string    `json:"replica"`
	Since   time.Time `json:"since"`
	// Renewed is when the holder last renewed the lease; a live holder
	// renews it every sixth of the lease's TTL.
	Renewed time.Time `json:"renewed"`
}

// Committing is a commit recorded as about to happen.
type Committing struct {
	Time       time.Time `json:"time"`
	RunID      string    `json:"run_id"`
	Completion string    `json:"completion"`
}

// Run is an account's latest modelling run.
type Run struct {
	RunID       string    `json:"run_id"`
	CompletedAt time.Time `json:"completed_at"`
	// Dumped is set when the destination's last dump is of this run.
	Dumped bool `json:"dumped"`
}

// WaitingCount is what waits for the destination's account.
type WaitingCount struct {
	// Events counts the account's events and queued re-exports in the
	// stream not yet handed to a daemon (see Stream.Counted).
	Events int `json:"events"`
	// Reexports counts the re-exports queued for the destination that
	// have not started.
	Reexports int `json:"reexports"`
}

func (r *Reader) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Read builds the report for q.
func (r *Reader) Read(ctx context.Context, q Query) (Report, error) {
	rep := Report{GeneratedAt: r.now().UTC(), Destinations: []Destination{}}
	entries := r.entries(q)
	fq := fleetQuery(q, entries)
	fleet, err := r.State.ReadFleet(ctx, fq)
	if err != nil {
		return rep, err
	}
	byName := map[string]Entry{}
	for _, e := range entries {
		byName[e.Name] = e
	}
	for name, d := range fleet.Destinations {
		if _, ok := byName[name]; !ok && (q.Account == "" || d.Account == q.Account) {
			byName[name] = Entry{Name: name, Account: d.Account}
		}
	}
	if q.Destination != "" && fq.Accounts != nil && len(fq.Accounts) == 0 {
		// Its account was known only once its record was read.
		if a := byName[q.Destination].Account; a != "" {
			more, err := r.State.ReadFleet(ctx, state.FleetQuery{Destinations: []string{}, Accounts: []string{a}})
			if err != nil {
				return rep, err
			}
			fleet.LatestRuns, fleet.Reexports = more.LatestRuns, more.Reexports
		}
	}
	account := q.Account
	if q.Destination != "" {
		account = byName[q.Destination].Account
	}
	waiting, stream, err := r.waiting(ctx, account, q.Account == "" && q.Destination == "")
	if err != nil {
		rep.Warnings = append(rep.Warnings, "event stream: "+err.Error())
	}
	rep.Stream = stream
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	configured := map[string]bool{}
	for _, e := range entries {
		configured[e.Name] = true
	}
	for _, n := range names {
		e := byName[n]
		rep.Destinations = append(rep.Destinations, destination(e, configured[n], fleet, waiting))
	}
	return rep, nil
}

// entries lists the catalog's destinations that q asks for.
func (r *Reader) entries(q Query) []Entry {
	if r.Catalog == nil {
		return nil
	}
	var out []Entry
	for _, e := range r.Catalog.Entries() {
		if (q.Account == "" || e.Account == q.Account) && (q.Destination == "" || e.Name == q.Destination) {
			out = append(out, e)
		}
	}
	return out
}

// fleetQuery reads only the keys a narrowed query needs: a request per
// key costs less than a pass over a bucket of thousands.
func fleetQuery(q Query, entries []Entry) state.FleetQuery {
	var fq state.FleetQuery
	switch {
	case q.Destination != "":
		fq.Destinations = []string{q.Destination}
	case q.Account != "" && len(entries) > 0:
		fq.Destinations = []string{}
		for _, e := range entries {
			fq.Destinations = append(fq.Destinations, e.Name)
		}
	}
	switch {
	case q.Account != "":
		fq.Accounts = []string{q.Account}
	case q.Destination != "" && len(entries) == 1:
		fq.Accounts = []string{entries[0].Account}
	case q.Destination != "":
		fq.Accounts = []string{} // unknown until its record is read
	}
	return fq
}

// destination puts one destination's status together.
func destination(e Entry, configured bool, f state.Fleet, waiting map[string]int) Destination {
	rec := f.Destinations[e.Name]
	account := e.Account
	if account == "" {
		account = rec.Account
	}
	d := Destination{Name: e.Name, Account: account, Plugin: e.Plugin, Enabled: e.Enabled, Configured: configured}
	if !rec.LastTime.IsZero() {
		d.LastDump = dump(rec)
	}
	if rec.LastFailure != nil {
		d.LastFailure = &Failure{Failure: *rec.LastFailure, Current: d.LastDump == nil || rec.LastFailure.At.After(d.LastDump.Time)}
	}
	if l, ok := f.Leases[e.Name]; ok {
		d.InFlight = &InFlight{JobID: l.Job, Replica: l.Owner, Since: l.Since, Renewed: l.Renewed}
	}
	if in := rec.Intent; in != nil {
		d.Committing = &Committing{Time: in.Time, RunID: in.Run.RunID, Completion: in.Completion}
	}
	if run, ok := f.LatestRuns[account]; ok && account != "" {
		d.LatestRun = &Run{RunID: run.RunID, CompletedAt: run.CompletedAt, Dumped: d.LastDump != nil && d.LastDump.RunID == run.RunID}
	}
	d.Waiting.Events = waiting[account]
	for _, p := range f.Reexports[account].Pending {
		if slices.Contains(p.Destinations, e.Name) {
			d.Waiting.Reexports++
		}
	}
	d.State = summarize(d)
	return d
}

func dump(rec state.Destination) *Dump {
	d := &Dump{Time: rec.LastTime, RunID: rec.LastRunID, Completion: rec.LastCompletion, Location: rec.LastLocation, Tables: len(rec.Tables)}
	for _, t := range rec.Tables {
		d.Files += t.Files
		d.Rows += t.Rows
		d.Bytes += t.Bytes
		if !t.Time.Equal(rec.LastTime) {
			d.CarriedTables++
		}
	}
	return d
}

// summarize picks the one word that says most about a destination.
func summarize(d Destination) string {
	current := d.LastFailure != nil && d.LastFailure.Current
	switch {
	case d.InFlight != nil:
		return StateExporting
	case d.Committing != nil:
		return StateCommitPending
	case d.Configured && !d.Enabled:
		return StateDisabled
	case current && d.LastFailure.Final:
		return StateFailed
	case current:
		return StateRetrying
	case d.LastDump != nil:
		return StateOK
	}
	return StateNoDump
}

// errNoStream is reported when the daemons have not set the stream up yet.
var errNoStream = errors.New("the event stream or its consumer does not exist yet (no daemon has run)")
