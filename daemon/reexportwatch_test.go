package main

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/job"
)

// vt is a terminal as far as liveLines uses one: it prints, moves the
// cursor up (ESC [ n A), clears a line (ESC [ 2 K) and goes to the next
// line; its rows are what a person would see.
type vt struct {
	rows [][]rune
	row  int
}

func (t *vt) Write(p []byte) (int, error) {
	s := []rune(string(p))
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[':
			j := i + 2
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			n, _ := strconv.Atoi(string(s[i+2 : j]))
			switch s[j] {
			case 'A':
				t.row = max(t.row-n, 0)
			case 'K':
				t.line()
				t.rows[t.row] = nil
			}
			i = j
		case s[i] == '\n':
			t.line()
			t.row++
		default:
			t.line()
			t.rows[t.row] = append(t.rows[t.row], s[i])
		}
	}
	return len(p), nil
}

func (t *vt) line() {
	for len(t.rows) <= t.row {
		t.rows = append(t.rows, nil)
	}
}

func (t *vt) screen() []string {
	var out []string
	for _, r := range t.rows {
		out = append(out, string(r))
	}
	return out
}

func progressMsg(dest string, tables, files int) job.ProgressMessage {
	return job.ProgressMessage{JobID: "j", Account: "acme", Destination: dest, TablesEncoded: tables, Tables: 6,
		Files: files, Rows: int64(files) * 100, Bytes: int64(files) << 20, RowsEncoded: int64(files) * 150, Seconds: float64(files)}
}

// TestReexportViewOnATerminal: one line per destination, redrawn in place
// as progress and outcomes arrive; the final screen holds each
// destination's outcome and nothing else; long lines are cut to the
// terminal's width.
func TestReexportViewOnATerminal(t *testing.T) {
	term := &vt{}
	v := newReexportView(term, &liveLines{w: term, width: 100}, []string{"a", "b"})
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"queued", func() {}, []string{"a: queued", "b: queued"}},
		{"progress of a", func() { v.progress(progressMsg("a", 2, 3)) },
			[]string{"a: exporting: 2/6 tables encoded, 450 rows; delivered 3 files, 300 rows, 3.0 MiB; 3s", "b: queued"}},
		{"a retry of b", func() {
			v.outcome(job.OutcomeMessage{JobID: "j", Destination: "b", Status: job.StatusRetrying, Attempt: 1, Error: "refused"})
		}, []string{"a: exporting: 2/6 tables encoded, 450 rows; delivered 3 files, 300 rows, 3.0 MiB; 3s", "b: attempt 1 failed, will retry: refused"}},
		{"a long line", func() {
			m := progressMsg("b", 3, 12)
			m.Encoding = []string{"events", "revenue_attribution", "contacts"}
			v.progress(m)
		}, []string{"a: exporting: 2/6 tables encoded, 450 rows; delivered 3 files, 300 rows, 3.0 MiB; 3s",
			"b: exporting: 3/6 tables encoded (encoding events, revenue_attribution, contacts), 1800 rows; deli…"}},
		{"a committed", func() {
			v.outcome(job.OutcomeMessage{JobID: "j", Destination: "a", Status: job.StatusCommitted, Final: true, Rows: 900, Files: 7, Location: "/x/receipt.json"})
		}, []string{"a: committed 900 rows in 7 files; receipt /x/receipt.json", "b: exporting: 3/6 tables encoded (encoding events, revenue_attribution, contacts), 1800 rows; deli…"}},
		{"late progress of a is ignored", func() { v.progress(progressMsg("a", 6, 7)) },
			[]string{"a: committed 900 rows in 7 files; receipt /x/receipt.json", "b: exporting: 3/6 tables encoded (encoding events, revenue_attribution, contacts), 1800 rows; deli…"}},
		{"b failed", func() {
			if !v.outcome(job.OutcomeMessage{JobID: "j", Destination: "b", Status: job.StatusFailed, Final: true, Error: "gave up"}) {
				t.Error("a failure is not reported as one")
			}
		}, []string{"a: committed 900 rows in 7 files; receipt /x/receipt.json", "b: failed: gave up"}},
	}
	for _, s := range steps {
		s.do()
		got := term.screen()
		if strings.Join(got, "\n") != strings.Join(s.want, "\n") {
			t.Fatalf("%s: the screen shows\n%s\nwant\n%s", s.name, strings.Join(got, "\n"), strings.Join(s.want, "\n"))
		}
	}
	if bytes.Contains([]byte(strings.Join(term.screen(), "")), []byte{0x1b}) {
		t.Fatal("an escape sequence was printed rather than obeyed")
	}
}

// TestReexportViewPlain: without a terminal, a line per destination at
// each milestone (a table encoded, an outcome), one after a long quiet
// spell if files were delivered meanwhile, and no escape sequences.
func TestReexportViewPlain(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	v := newReexportView(&out, nil, []string{"a", "b"})
	v.now = func() time.Time { return now }
	for s := range 20 { // a message a second; the tables are encoded at 5, 10 and 15 s
		now = now.Add(time.Second)
		v.progress(progressMsg("a", s/5, s))
	}
	now = now.Add(plainEvery) // a long quiet spell, files delivered meanwhile
	v.progress(progressMsg("a", 3, 40))
	now = now.Add(time.Second)
	v.progress(progressMsg("a", 3, 40)) // nothing new
	v.outcome(job.OutcomeMessage{JobID: "j", Destination: "a", Status: job.StatusCommitted, Final: true, Rows: 900, Files: 41, Location: "/r"})
	v.outcome(job.OutcomeMessage{JobID: "j", Destination: "b", Status: job.StatusSkipped, Final: true, Error: "newer run"})
	want := []string{
		"a: exporting: 1/6 tables encoded, 750 rows; delivered 5 files, 500 rows, 5.0 MiB; 5s",
		"a: exporting: 2/6 tables encoded, 1500 rows; delivered 10 files, 1000 rows, 10.0 MiB; 10s",
		"a: exporting: 3/6 tables encoded, 2250 rows; delivered 15 files, 1500 rows, 15.0 MiB; 15s",
		"a: exporting: 3/6 tables encoded, 6000 rows; delivered 40 files, 4000 rows, 40.0 MiB; 40s",
		"a: committed 900 rows in 41 files; receipt /r",
		"b: skipped: newer run",
	}
	if got := strings.TrimSuffix(out.String(), "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}
