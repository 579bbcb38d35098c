package event

import (
	"fmt"
	"time"
)

// MsgID is the event's de-duplication id in the stream, its Nats-Msg-Id
// header: the account and the run, so that two accounts' runs with the
// same id are both kept.
func MsgID(ev ModellingCompleted) string { return ev.AccountID + "." + ev.RunID }

// MaxClockSkew is how far in the future, relative to when its message was
// stored, an event may say its run completed: enough for clocks that
// disagree a little, not for a date typed wrong.
const MaxClockSkew = 5 * time.Minute

// CheckCompletedAt refuses an event that says its run completed more than
// MaxClockSkew after at, the time its message was stored (or, for a run
// asked for again, the time of asking). Such an event would otherwise be
// the account's latest run until that date and make every real run look
// superseded.
func CheckCompletedAt(ev ModellingCompleted, at time.Time) error {
	if limit := at.Add(MaxClockSkew); ev.CompletedAt.After(limit) {
		return fmt.Errorf("completed_at %s is later than when the event was published (%s) by more than %v: the run cannot have completed in the future",
			ev.CompletedAt.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339), MaxClockSkew)
	}
	return nil
}
