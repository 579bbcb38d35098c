package job

import (
	"encoding/json"
	"time"

	"github.com/exportd/exportd/sdk"
)

// OutcomesSubjectPrefix starts the subjects on which job outcomes are
// published: exportd.jobs.<account>.<destination>.
const OutcomesSubjectPrefix = "exportd.jobs."

// AdvisorySubject carries a notice for every event given up as malformed.
const AdvisorySubject = "exportd.advisories.malformed"

// OutcomeSubject is where outcomes of an account's destination appear.
func OutcomeSubject(account, destination string) string {
	return OutcomesSubjectPrefix + account + "." + destination
}

// Status values of a published outcome. Committed, skipped and failed
// are final; the others say that the job will come back to the
// destination.
const (
	StatusCommitted = "committed"
	StatusSkipped   = "skipped"
	StatusFailed    = "failed"
	// StatusRetrying: the attempt failed and the export will be tried
	// again after a backoff.
	StatusRetrying = "retrying"
	// StatusWaiting: another job is exporting to the destination, or the
	// backoff after a failed attempt is not over; not an attempt.
	StatusWaiting = "waiting"
	// StatusInterrupted: the daemon stopped during the attempt, which
	// does not count; another replica or a restart continues.
	StatusInterrupted = "interrupted"
)

// OutcomeMessage is the JSON published on an outcome subject.
type OutcomeMessage struct {
	JobID       string `json:"job_id"`
	Account     string `json:"account"`
	Destination string `json:"destination"`
	RunID       string `json:"run_id"`
	Status      string `json:"status"`
	// Final is true when nothing more will happen for this job and
	// destination: it committed, was skipped, or failed for good.
	Final      bool      `json:"final"`
	Attempt    int       `json:"attempt"`
	Error      string    `json:"error,omitempty"`
	ErrorKind  string    `json:"error_kind,omitempty"`
	ExportTime time.Time `json:"export_time,omitzero"`
	Location   string    `json:"location,omitempty"`
	// Receipt is the receipt the destination wrote, when it is JSON.
	Receipt json.RawMessage `json:"receipt,omitempty"`
	Files   int             `json:"files,omitempty"`
	Rows    int64           `json:"rows,omitempty"`
	Bytes   int64           `json:"bytes,omitempty"`
	Seconds float64         `json:"seconds,omitempty"`
}

// Advisory is the JSON published on AdvisorySubject.
type Advisory struct {
	Subject   string    `json:"subject"`
	StreamSeq uint64    `json:"stream_seq"`
	Reason    string    `json:"reason"`
	At        time.Time `json:"at"`
}

func receiptJSON(rc sdk.Receipt) json.RawMessage {
	if json.Valid(rc.Body) {
		return json.RawMessage(rc.Body)
	}
	return nil
}
