// Package event defines the modelling-complete event that triggers an
// export and decodes it defensively: payloads come from the network and
// may be malformed or hostile.
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// SubjectPrefix starts the subject of every modelling-complete event; the
// account id follows.
const SubjectPrefix = "modelling.completed."

// MaxSize bounds an event payload. Real events are a few hundred bytes.
const MaxSize = 64 << 10

// ModellingCompleted says that a data-modelling run finished for an account.
type ModellingCompleted struct {
	AccountID   string    `json:"account_id"`
	RunID       string    `json:"run_id"`
	CompletedAt time.Time `json:"completed_at"`
	// Snapshot is a source-specific reference to the data to export, for
	// example a schema suffix of a modelling run. Optional; when set, it
	// follows the rules of ids (see ValidSnapshot).
	Snapshot string `json:"snapshot,omitempty"`
}

// idPattern bounds account and run ids to characters that are safe in NATS
// subjects, KV keys, file names and log lines.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_\-]{0,127}$`)

// ValidID reports whether s is a well-formed account or run id.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// ValidSnapshot reports whether s is an acceptable snapshot reference:
// empty (none), or a well-formed id.
func ValidSnapshot(s string) bool { return s == "" || ValidID(s) }

// Subject is the subject on which an account's events are published.
func Subject(accountID string) string { return SubjectPrefix + accountID }

// Decode parses and validates an event received on subject. Unknown fields
// are ignored so that producers can add some; every error says what is
// wrong in words an operator can act on.
func Decode(subject string, data []byte) (ModellingCompleted, error) {
	var ev ModellingCompleted
	if len(data) > MaxSize {
		return ev, fmt.Errorf("event is %d bytes, more than the %d allowed", len(data), MaxSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return ev, errors.New("event is empty")
	}
	var raw struct {
		AccountID   *string          `json:"account_id"`
		RunID       *string          `json:"run_id"`
		CompletedAt *string          `json:"completed_at"`
		Snapshot    *json.RawMessage `json:"snapshot"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return ev, fmt.Errorf("event is not a JSON object of the expected shape: %w", err)
	}
	if dec.More() {
		return ev, errors.New("event has trailing data after the JSON object")
	}
	switch {
	case raw.AccountID == nil:
		return ev, errors.New("event has no account_id")
	case !ValidID(*raw.AccountID):
		return ev, fmt.Errorf("account_id %q is not a valid id (letters, digits, _ and -, at most 128)", truncate(*raw.AccountID))
	case raw.RunID == nil:
		return ev, errors.New("event has no run_id")
	case !ValidID(*raw.RunID):
		return ev, fmt.Errorf("run_id %q is not a valid id (letters, digits, _ and -, at most 128)", truncate(*raw.RunID))
	case raw.CompletedAt == nil:
		return ev, errors.New("event has no completed_at")
	}
	ev.AccountID, ev.RunID = *raw.AccountID, *raw.RunID
	t, err := time.Parse(time.RFC3339Nano, *raw.CompletedAt)
	if err != nil {
		return ev, fmt.Errorf("completed_at %q is not an RFC 3339 time", truncate(*raw.CompletedAt))
	}
	ev.CompletedAt = t.UTC()
	if raw.Snapshot != nil && string(*raw.Snapshot) != "null" {
		var s string
		if err := json.Unmarshal(*raw.Snapshot, &s); err != nil {
			return ev, errors.New("snapshot must be a string")
		}
		// Sources put the snapshot into schema names, queries and paths:
		// it follows the rules of ids, so that it cannot smuggle a
		// separator, a quote or a path segment into them.
		if !ValidSnapshot(s) {
			return ev, fmt.Errorf("snapshot %q is not a valid reference (letters, digits, _ and -, at most 128)", truncate(s))
		}
		ev.Snapshot = s
	}
	if subject != "" {
		want := Subject(ev.AccountID)
		if subject != want {
			return ev, fmt.Errorf("event for account %q arrived on subject %q, not %q", ev.AccountID, truncate(subject), want)
		}
	}
	return ev, nil
}

// Encode returns the event's JSON form.
func (e ModellingCompleted) Encode() []byte {
	b, _ := json.Marshal(e)
	return b
}

func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
