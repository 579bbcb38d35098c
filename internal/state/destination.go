package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/sdk"
)

// Destination is what the daemon remembers about one destination.
type Destination struct {
	// LastTime is the export time of the last committed dump.
	LastTime           time.Time `json:"last_time"`
	LastRunID          string    `json:"last_run_id,omitempty"`
	LastRunCompletedAt time.Time `json:"last_run_completed_at"`
	LastLocation       string    `json:"last_location,omitempty"`
	LastReceipt        []byte    `json:"last_receipt,omitempty"`
	// LastCompletion keys the export that committed the last dump: the run
	// id for an event, the job id for a re-export.
	LastCompletion string `json:"last_completion,omitempty"`
	// Tables says, for every table of the last committed dump, which dump
	// holds its files: a re-export of some tables carries the others over
	// from the dump before.
	Tables map[string]TableDump `json:"tables,omitempty"`
	// ReservedTime is the latest export time ever handed out, committed or
	// not: a crashed attempt may have written files in its minute folder.
	ReservedTime time.Time `json:"reserved_time"`
	// Intent is the commit in progress, recorded just before the
	// destination's Commit and cleared once the commit is recorded.
	Intent *CommitIntent `json:"intent,omitempty"`
	// Account is the account of the last dump recorded or of the last
	// failure, for readers that have no configuration (failure.go).
	Account string `json:"account,omitempty"`
	// LastFailure is the latest attempt that failed, kept after later
	// dumps commit (failure.go).
	LastFailure *Failure `json:"last_failure,omitempty"`
}

// TableDump locates a table's files in a committed dump.
type TableDump struct {
	// Time is the export time of the dump that delivered the files.
	Time  time.Time `json:"time"`
	RunID string    `json:"run_id"`
	Files int       `json:"files"`
	Rows  int64     `json:"rows"`
	Bytes int64     `json:"bytes"`
}

// ManifestTable is one table of a committed (or committing) dump.
type ManifestTable struct {
	Name  string `json:"name"`
	Files int    `json:"files"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
	// Carried is the export time of the earlier dump whose files the
	// table keeps; zero when this dump delivered them.
	Carried time.Time `json:"carried,omitzero"`
	// Columns and FileList are the table's parquet schema and files, so
	// that a recommit tells the destination what the first Commit did.
	// Empty for a carried table.
	Columns  []sdk.Column       `json:"columns,omitempty"`
	FileList []sdk.ManifestFile `json:"file_list,omitempty"`
}

// CommitIntent is what a commit is about to make visible: enough to make
// the same dump visible again, with the same receipt, if the daemon dies
// between the destination's Commit and the record of it.
type CommitIntent struct {
	// Completion keys the export: the run id, or the re-export's job id.
	Completion string                   `json:"completion"`
	Run        event.ModellingCompleted `json:"run"`
	// Time is the dump's export time T.
	Time     time.Time       `json:"time"`
	Manifest []ManifestTable `json:"manifest"`
}

// Commit is a committed dump, as RecordCommit records it.
type Commit struct {
	CommitIntent
	Receipt sdk.Receipt
}

// FreeAt is the earliest export time of the destination's next dump: the
// start of the minute after the latest export time reserved or committed,
// zero when there is none. Dumps never share a minute folder.
func (d Destination) FreeAt() time.Time {
	latest := d.ReservedTime
	if d.LastTime.After(latest) {
		latest = d.LastTime
	}
	if latest.IsZero() {
		return time.Time{}
	}
	return latest.UTC().Truncate(time.Minute).Add(time.Minute)
}

// Destination returns what is known about a destination; the zero value
// when nothing is.
func (s *Store) Destination(ctx context.Context, name string) (Destination, error) {
	var d Destination
	g, _, err := getGuess(ctx, s.destinations, name, &d)
	s.records.set(name, g, err)
	return d, err
}

// updateRecord changes a destination's record, starting from the record
// as this process last read or wrote it.
func (s *Store) updateRecord(ctx context.Context, name string, fn func(d *Destination, exists bool) (bool, error)) error {
	_, g, err := updateGuess(ctx, s.destinations, name, s.records.get(name), fn)
	s.records.set(name, g, err)
	return err
}

// ErrMinuteTaken is returned by Reserve when the minute of the requested
// export time already belongs to another dump.
var ErrMinuteTaken = errors.New("the minute is taken by an earlier dump")

// Reserve records now (UTC, microseconds) as the export time of a new dump
// of a destination, before any file is written, so that no two dumps, even
// one that crashed half-way, share a minute folder. It fails with
// ErrMinuteTaken if now is before the destination's FreeAt: the caller
// waits for that minute to begin rather than naming a dump after a time
// that has not come yet. It returns the time and the state before the
// reservation.
func (s *Store) Reserve(ctx context.Context, name string, now time.Time) (time.Time, Destination, error) {
	var prev Destination
	t := now.UTC().Truncate(time.Microsecond)
	err := s.updateRecord(ctx, name, func(d *Destination, _ bool) (bool, error) {
		prev = *d
		if free := d.FreeAt(); t.Before(free) {
			return false, fmt.Errorf("%w: %s is free from %s", ErrMinuteTaken, name, free.Format(time.RFC3339))
		}
		d.ReservedTime = t
		return true, nil
	})
	if err != nil {
		return time.Time{}, Destination{}, fmt.Errorf("reserve an export time for %s: %w", name, err)
	}
	return t, prev, nil
}

// RecordIntent records the commit a destination is about to make.
func (s *Store) RecordIntent(ctx context.Context, name string, in CommitIntent) error {
	err := s.updateRecord(ctx, name, func(d *Destination, _ bool) (bool, error) {
		d.Intent = &in
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("record the commit intent of %s: %w", name, err)
	}
	return nil
}

// ClearIntent forgets the commit intent of the dump exported at t, if it
// is still the recorded one: that commit failed and will not be repeated.
func (s *Store) ClearIntent(ctx context.Context, name string, t time.Time) error {
	err := s.updateRecord(ctx, name, func(d *Destination, _ bool) (bool, error) {
		if d.Intent == nil || !d.Intent.Time.Equal(t) {
			return false, nil
		}
		d.Intent = nil
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("clear the commit intent of %s: %w", name, err)
	}
	return nil
}

// RecordCommit remembers a committed dump and clears its commit intent. A
// dump older than the one already recorded does not replace it.
func (s *Store) RecordCommit(ctx context.Context, name string, c Commit) error {
	err := s.updateRecord(ctx, name, func(d *Destination, _ bool) (bool, error) {
		cleared := d.Intent != nil && !d.Intent.Time.After(c.Time)
		if cleared {
			d.Intent = nil
		}
		if !d.LastTime.IsZero() && !c.Time.After(d.LastTime) {
			return cleared, nil
		}
		d.LastTime = c.Time
		d.Account = c.Run.AccountID
		d.LastRunID = c.Run.RunID
		d.LastRunCompletedAt = c.Run.CompletedAt
		d.LastLocation = c.Receipt.Location
		d.LastReceipt = c.Receipt.Body
		d.LastCompletion = c.Completion
		d.Tables = tableDumps(d.Tables, c)
		if d.ReservedTime.Before(c.Time) {
			d.ReservedTime = c.Time
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("record the dump of %s: %w", name, err)
	}
	return nil
}

// tableDumps locates every table of a committed dump: delivered tables in
// the dump itself, carried tables where they were before.
func tableDumps(before map[string]TableDump, c Commit) map[string]TableDump {
	out := make(map[string]TableDump, len(c.Manifest))
	for _, m := range c.Manifest {
		if prev, ok := before[m.Name]; ok && !m.Carried.IsZero() && prev.Time.Equal(m.Carried) {
			out[m.Name] = prev
			continue
		}
		td := TableDump{Time: c.Time, RunID: c.Run.RunID, Files: m.Files, Rows: m.Rows, Bytes: m.Bytes}
		if !m.Carried.IsZero() {
			td.Time = m.Carried
		}
		out[m.Name] = td
	}
	return out
}

// Completion records that a run was delivered to a destination.
type Completion struct {
	Time     time.Time `json:"time"`
	Location string    `json:"location,omitempty"`
	// Skipped says why nothing was exported (superseded), if so.
	Skipped string `json:"skipped,omitempty"`
	// Failed holds the error of an export given up for good.
	Failed string `json:"failed,omitempty"`
	// Files, Rows and Bytes are what a committed export delivered.
	Files int   `json:"files,omitempty"`
	Rows  int64 `json:"rows,omitempty"`
	Bytes int64 `json:"bytes,omitempty"`
}

func completedKey(dest, runID string) string { return dest + "." + runID }

// Completed returns the completion of (destination, run), if any.
func (s *Store) Completed(ctx context.Context, dest, runID string) (Completion, bool, error) {
	var c Completion
	_, ok, err := get(ctx, s.completed, completedKey(dest, runID), &c)
	return c, ok, err
}

// MarkCompleted records the completion of (destination, run), replacing
// any earlier one.
func (s *Store) MarkCompleted(ctx context.Context, dest, runID string, c Completion) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := s.completed.Put(ctx, completedKey(dest, runID), b); err != nil {
		return fmt.Errorf("record the completion of %s: %w", dest, err)
	}
	return nil
}
