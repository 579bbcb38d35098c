package job

import (
	"encoding/json"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/exportd/exportd/internal/parquetw"
)

// ProgressSubjectPrefix starts the subjects on which exports in progress
// report how far they are: exportd.progress.<account>.<destination>.
const ProgressSubjectPrefix = "exportd.progress."

// ProgressSubject is where progress of an account's destination appears.
func ProgressSubject(account, destination string) string {
	return ProgressSubjectPrefix + account + "." + destination
}

// ProgressMessage is the JSON published on a progress subject: how far an
// export to one destination is. It is published at most once per interval
// (a second) per export, from the first interval on: an export that ends
// sooner publishes none. Its outcome follows on the outcome subject.
type ProgressMessage struct {
	JobID       string `json:"job_id"`
	Account     string `json:"account"`
	Destination string `json:"destination"`
	RunID       string `json:"run_id"`
	// Files, Rows and Bytes count what the destination has received.
	Files int   `json:"files"`
	Rows  int64 `json:"rows"`
	Bytes int64 `json:"bytes"`
	// TablesEncoded counts the export's tables encoded so far, of Tables
	// (zero when the export takes whatever tables the source has, which
	// is not known until it is done). Encoding names the tables being
	// encoded now, with the rows encoded so far in RowsEncoded.
	TablesEncoded int      `json:"tables_encoded"`
	Tables        int      `json:"tables,omitempty"`
	Encoding      []string `json:"encoding,omitempty"`
	RowsEncoded   int64    `json:"rows_encoded"`
	// Seconds is how long the export has been running.
	Seconds float64 `json:"seconds"`
}

// Progress publishes the progress of the exports it tracks. It is the
// runner's Observer (beside others, see TeeObserver): it routes each
// observation to the export it belongs to, and each tracked export
// publishes, once per interval while anything changed, one message per
// destination. Safe for concurrent use; a nil *Progress tracks nothing.
type Progress struct {
	publish  func(subject string, data []byte) error
	interval time.Duration
	log      *slog.Logger

	mu   sync.Mutex
	jobs map[string]*jobProgress // by the runner's job id
}

var _ Observer = (*Progress)(nil)

// NewProgress returns a Progress that publishes through bus every
// interval (a second when zero).
func NewProgress(bus Bus, interval time.Duration, log *slog.Logger) *Progress {
	if interval <= 0 {
		interval = time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Progress{publish: bus.Publish, interval: interval, log: log, jobs: map[string]*jobProgress{}}
}

// jobProgress is one tracked export.
type jobProgress struct {
	jobID, account, runID string
	tables                int
	started               time.Time

	mu       sync.Mutex
	changed  bool
	dests    []string
	sent     map[string]*ProgressMessage // per destination, what it received
	encoded  int
	encoding map[string]int64 // rows encoded so far, per table in progress
	rows     int64
}

// Track starts tracking a runner job of the engine's job jobID; the
// returned function stops it. Nothing is published until an interval has
// passed.
func (p *Progress) Track(job Job, jobID string) (stop func()) {
	if p == nil || len(job.Targets) == 0 {
		return func() {}
	}
	jp := &jobProgress{
		jobID: jobID, account: job.Event.AccountID, runID: job.Event.RunID,
		tables: len(sourceTables(job)), started: time.Now(),
		sent: map[string]*ProgressMessage{}, encoding: map[string]int64{},
	}
	for _, t := range job.Targets {
		jp.dests = append(jp.dests, t.Name)
		jp.sent[t.Name] = &ProgressMessage{}
	}
	p.mu.Lock()
	p.jobs[job.ID] = jp
	p.mu.Unlock()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(p.interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.flush(jp)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		p.mu.Lock()
		delete(p.jobs, job.ID)
		p.mu.Unlock()
	}
}

// flush publishes a tracked export's progress if it changed.
func (p *Progress) flush(jp *jobProgress) {
	msgs := jp.messages()
	for _, m := range msgs {
		b, _ := json.Marshal(m)
		if err := p.publish(ProgressSubject(m.Account, m.Destination), b); err != nil {
			p.log.Debug("publishing progress failed", "job", m.JobID, "destination", m.Destination, "error", err)
		}
	}
}

// messages returns the messages to publish, none when nothing changed.
func (jp *jobProgress) messages() []ProgressMessage {
	jp.mu.Lock()
	defer jp.mu.Unlock()
	if !jp.changed {
		return nil
	}
	jp.changed = false
	encoding := make([]string, 0, len(jp.encoding))
	var inProgress int64
	for t, n := range jp.encoding {
		encoding = append(encoding, t)
		inProgress += n
	}
	sort.Strings(encoding)
	out := make([]ProgressMessage, 0, len(jp.dests))
	for _, d := range jp.dests {
		m := *jp.sent[d]
		m.JobID, m.Account, m.Destination, m.RunID = jp.jobID, jp.account, d, jp.runID
		m.TablesEncoded, m.Tables, m.Encoding = jp.encoded, jp.tables, encoding
		m.RowsEncoded = jp.rows + inProgress
		m.Seconds = time.Since(jp.started).Seconds()
		out = append(out, m)
	}
	return out
}

// of returns the tracked export of a runner job, nil when untracked.
func (p *Progress) of(jobID string) *jobProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.jobs[jobID]
}

// TableStarted implements Observer.
func (p *Progress) TableStarted(jobID, table string) {
	if jp := p.of(jobID); jp != nil {
		jp.mu.Lock()
		jp.encoding[table] = 0
		jp.changed = true
		jp.mu.Unlock()
	}
}

// RowsEncoded implements Observer.
func (p *Progress) RowsEncoded(jobID, table string, n int64) {
	if jp := p.of(jobID); jp != nil {
		jp.mu.Lock()
		jp.encoding[table] += n
		jp.changed = true
		jp.mu.Unlock()
	}
}

// FileEncoded implements Observer.
func (p *Progress) FileEncoded(string, parquetw.File) {}

// FileDelivered implements Observer.
func (p *Progress) FileDelivered(jobID, destination string, f parquetw.File, _ time.Duration) {
	if jp := p.of(jobID); jp != nil {
		jp.mu.Lock()
		if m := jp.sent[destination]; m != nil {
			m.Files++
			m.Rows += f.Rows
			m.Bytes += f.Size
			jp.changed = true
		}
		jp.mu.Unlock()
	}
}

// TableEncoded implements Observer.
func (p *Progress) TableEncoded(jobID string, s parquetw.Summary) {
	if jp := p.of(jobID); jp != nil {
		jp.mu.Lock()
		delete(jp.encoding, s.Table)
		jp.encoded++
		jp.rows += s.Rows
		jp.changed = true
		jp.mu.Unlock()
	}
}

// TeeObserver returns an Observer that tells each of obs (nil ones left
// out) about everything, in order.
func TeeObserver(obs ...Observer) Observer {
	var t tee
	for _, o := range obs {
		if o != nil {
			t = append(t, o)
		}
	}
	return t
}

type tee []Observer

func (t tee) TableStarted(jobID, table string) {
	for _, o := range t {
		o.TableStarted(jobID, table)
	}
}

func (t tee) RowsEncoded(jobID, table string, n int64) {
	for _, o := range t {
		o.RowsEncoded(jobID, table, n)
	}
}

func (t tee) FileEncoded(jobID string, f parquetw.File) {
	for _, o := range t {
		o.FileEncoded(jobID, f)
	}
}

func (t tee) FileDelivered(jobID, destination string, f parquetw.File, took time.Duration) {
	for _, o := range t {
		o.FileDelivered(jobID, destination, f, took)
	}
}

func (t tee) TableEncoded(jobID string, s parquetw.Summary) {
	for _, o := range t {
		o.TableEncoded(jobID, s)
	}
}
