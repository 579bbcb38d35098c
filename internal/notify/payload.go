package notify

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/job"
)

// PayloadVersion is the version of Payload's shape. Fields may be added
// within a version; none is removed or changes meaning.
const PayloadVersion = 1

// Notification is one destination outcome to post.
type Notification struct {
	// ID names the notification; every attempt to post it carries it.
	ID string
	// Event is config.NotifyFailed, NotifyCommitted or NotifyRecovered.
	Event string
	// At is when the daemon learnt the outcome.
	At      time.Time
	Outcome job.OutcomeMessage
	// FailedSince and Failures describe, for a recovery, the failures it
	// ends: when the first happened and how many there were.
	FailedSince time.Time
	Failures    int
}

// Payload is the JSON body of a webhook in the "json" format. It holds no
// secret: no configuration of the destination, and errors are scrubbed
// of credentials that a URL in them might carry.
type Payload struct {
	Version     int       `json:"version"`
	ID          string    `json:"id"`
	Event       string    `json:"event"`
	OccurredAt  time.Time `json:"occurred_at"`
	Account     string    `json:"account"`
	Destination string    `json:"destination"`
	JobID       string    `json:"job_id"`
	RunID       string    `json:"run_id"`
	Attempt     int       `json:"attempt"`
	// Error and ErrorKind (permanent, retryable, config) say why an
	// export failed.
	Error     string `json:"error,omitempty"`
	ErrorKind string `json:"error_kind,omitempty"`
	// A committed dump: its export time, where its receipt is, and size.
	ExportTime time.Time `json:"export_time,omitzero"`
	Location   string    `json:"location,omitempty"`
	Files      int       `json:"files,omitempty"`
	Rows       int64     `json:"rows,omitempty"`
	Bytes      int64     `json:"bytes,omitempty"`
	Seconds    float64   `json:"seconds,omitempty"`
	// A recovery: since when the destination failed, and how many exports
	// failed for good in that time.
	FailedSince time.Time `json:"failed_since,omitzero"`
	Failures    int       `json:"failures,omitempty"`
}

// maxErrorLen bounds the error text posted.
const maxErrorLen = 2000

// NewPayload builds the JSON payload of a notification.
func NewPayload(n Notification) Payload {
	o := n.Outcome
	p := Payload{
		Version: PayloadVersion, ID: n.ID, Event: n.Event, OccurredAt: n.At.UTC(),
		Account: o.Account, Destination: o.Destination, JobID: o.JobID, RunID: o.RunID, Attempt: o.Attempt,
		FailedSince: n.FailedSince.UTC(), Failures: n.Failures,
	}
	if o.Status == job.StatusFailed {
		p.Error, p.ErrorKind = Scrub(o.Error), o.ErrorKind
	}
	if o.Status == job.StatusCommitted {
		p.ExportTime, p.Location = o.ExportTime, o.Location
		p.Files, p.Rows, p.Bytes, p.Seconds = o.Files, o.Rows, o.Bytes, o.Seconds
	}
	return p
}

var (
	urlCredentials = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@`)
	secretParams   = regexp.MustCompile(`(?i)([?&][A-Za-z0-9_-]*(?:signature|token|secret|password|passwd|credential|sig|key)[A-Za-z0-9_-]*=)[^&\s"']+`)
)

// Scrub removes from an error text what may be a credential: the user
// and password of a URL, and query parameters named like signatures,
// tokens, keys and passwords. It also bounds the text's length.
func Scrub(s string) string {
	s = urlCredentials.ReplaceAllString(s, "${1}REDACTED@")
	s = secretParams.ReplaceAllString(s, "${1}REDACTED")
	if len(s) > maxErrorLen {
		s = s[:maxErrorLen] + "…"
	}
	return s
}

// render encodes a notification in a notifier's format.
func render(format string, n Notification) ([]byte, error) {
	if format == "slack" {
		return json.Marshal(slackMessage(n))
	}
	return json.Marshal(NewPayload(n))
}

// slack is the message an incoming webhook of Slack (or of a chat that
// speaks its format) shows: text for notifications and clients that
// show no attachments, and an attachment coloured by the event.
type slack struct {
	Text        string            `json:"text"`
	Attachments []slackAttachment `json:"attachments,omitempty"`
}

type slackAttachment struct {
	Color    string       `json:"color"`
	Fallback string       `json:"fallback"`
	Fields   []slackField `json:"fields"`
	Footer   string       `json:"footer"`
	TS       int64        `json:"ts"`
}

type slackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

func slackMessage(n Notification) slack {
	p := NewPayload(n)
	acct, dest := slackEscape(p.Account), slackEscape(p.Destination)
	var text, color string
	fields := []slackField{
		{Title: "Account", Value: acct, Short: true},
		{Title: "Destination", Value: dest, Short: true},
		{Title: "Run", Value: slackEscape(p.RunID), Short: true},
	}
	switch n.Event {
	case config.NotifyFailed:
		color = "danger"
		text = fmt.Sprintf(":x: exportd: the export of account *%s* to *%s* failed for good after %d attempt(s)", acct, dest, p.Attempt)
		fields = append(fields,
			slackField{Title: "Kind", Value: slackEscape(p.ErrorKind), Short: true},
			slackField{Title: "Error", Value: slackEscape(p.Error)})
	case config.NotifyRecovered:
		color = "good"
		text = fmt.Sprintf(":white_check_mark: exportd: *%s* (account *%s*) recovered: a dump was committed after %d failed export(s) since %s",
			dest, acct, p.Failures, p.FailedSince.Format(time.RFC3339))
		fields = append(fields, committedFields(p)...)
	default:
		color = "#439FE0"
		text = fmt.Sprintf(":package: exportd: a dump of account *%s* was committed to *%s*", acct, dest)
		fields = append(fields, committedFields(p)...)
	}
	return slack{Text: text, Attachments: []slackAttachment{{
		Color: color, Fallback: text, Fields: fields, Footer: "exportd " + p.ID, TS: p.OccurredAt.Unix(),
	}}}
}

func committedFields(p Payload) []slackField {
	return []slackField{
		{Title: "Receipt", Value: slackEscape(p.Location)},
		{Title: "Files", Value: fmt.Sprint(p.Files), Short: true},
		{Title: "Rows", Value: fmt.Sprint(p.Rows), Short: true},
		{Title: "Size", Value: config.FormatSize(p.Bytes), Short: true},
		{Title: "Took", Value: (time.Duration(p.Seconds * float64(time.Second))).Round(time.Millisecond).String(), Short: true},
	}
}

// slackEscape escapes the three characters Slack's message format gives
// a meaning to, so that an error text cannot mention or link anyone.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
