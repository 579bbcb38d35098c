package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/job"
)

// reexportView shows a re-export's destinations while `exportd reexport
// -wait` waits: on a terminal, one line per destination redrawn in place
// as progress and outcomes arrive; otherwise plain lines, one per
// destination at each milestone (a table encoded, an attempt's outcome,
// at most one every plainEvery in between), never a line per progress
// message.
type reexportView struct {
	w      io.Writer
	tty    bool
	screen liveLines
	order  []string
	dests  map[string]*destView
	now    func() time.Time
}

// destView is what is known of one destination's export.
type destView struct {
	name    string
	prog    *job.ProgressMessage
	outcome *job.OutcomeMessage
	// Plain mode: what the last progress line said, and when.
	printedTables int
	printedFiles  int
	printedAt     time.Time
}

// plainEvery bounds, in plain mode, how long a destination whose export
// goes on without a milestone stays silent.
const plainEvery = 30 * time.Second

// newReexportView shows dests on w; screen draws on the terminal, if w is
// one.
func newReexportView(w io.Writer, screen *liveLines, dests []string) *reexportView {
	v := &reexportView{w: w, tty: screen != nil, dests: map[string]*destView{}, now: time.Now}
	if screen != nil {
		v.screen = *screen
	}
	for _, d := range dests {
		v.order = append(v.order, d)
		v.dests[d] = &destView{name: d, printedAt: v.now()}
	}
	v.redraw()
	return v
}

// progress takes a progress message of the job.
func (v *reexportView) progress(m job.ProgressMessage) {
	d := v.dests[m.Destination]
	if d == nil || (d.outcome != nil && d.outcome.Final) {
		return
	}
	d.prog = &m
	if v.tty {
		v.redraw()
		return
	}
	milestone := m.TablesEncoded > d.printedTables
	quietTooLong := v.now().Sub(d.printedAt) >= plainEvery && m.Files != d.printedFiles
	if milestone || quietTooLong {
		fmt.Fprintln(v.w, d.name+": "+progressLine(m))
		d.printedTables, d.printedFiles, d.printedAt = m.TablesEncoded, m.Files, v.now()
	}
}

// outcome takes an outcome of the job; it reports whether it is a
// failure (failed, or skipped: nothing was exported).
func (v *reexportView) outcome(o job.OutcomeMessage) bool {
	d := v.dests[o.Destination]
	if d == nil {
		return false
	}
	d.outcome = &o
	if o.Final {
		d.prog = nil
	}
	if v.tty {
		v.redraw()
	} else {
		fmt.Fprintln(v.w, outcomeLine(o))
	}
	switch o.Status {
	case job.StatusCommitted, job.StatusRetrying, job.StatusWaiting, job.StatusInterrupted:
		return false
	}
	return true
}

func (v *reexportView) redraw() {
	if !v.tty {
		return
	}
	lines := make([]string, 0, len(v.order))
	for _, name := range v.order {
		lines = append(lines, v.dests[name].line())
	}
	v.screen.draw(lines)
}

// line is a destination's line on a terminal: its outcome once final,
// else its progress, else its last outcome (a retry), else queued.
func (d *destView) line() string {
	switch {
	case d.outcome != nil && d.outcome.Final:
		return outcomeLine(*d.outcome)
	case d.prog != nil:
		return d.name + ": " + progressLine(*d.prog)
	case d.outcome != nil:
		return outcomeLine(*d.outcome)
	}
	return d.name + ": queued"
}

func progressLine(m job.ProgressMessage) string {
	tables := fmt.Sprintf("%d tables encoded", m.TablesEncoded)
	if m.Tables > 0 {
		tables = fmt.Sprintf("%d/%d tables encoded", m.TablesEncoded, m.Tables)
	}
	if len(m.Encoding) > 0 {
		tables += " (encoding " + strings.Join(m.Encoding, ", ") + ")"
	}
	return fmt.Sprintf("exporting: %s, %d rows; delivered %d files, %d rows, %s; %s",
		tables, m.RowsEncoded, m.Files, m.Rows, humanBytes(m.Bytes), age(time.Duration(m.Seconds*float64(time.Second))))
}

func outcomeLine(o job.OutcomeMessage) string {
	switch o.Status {
	case job.StatusCommitted:
		return fmt.Sprintf("%s: committed %d rows in %d files; receipt %s", o.Destination, o.Rows, o.Files, o.Location)
	case job.StatusRetrying:
		return fmt.Sprintf("%s: attempt %d failed, will retry: %s", o.Destination, o.Attempt, o.Error)
	}
	return fmt.Sprintf("%s: %s: %s", o.Destination, o.Status, o.Error)
}
