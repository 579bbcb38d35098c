package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/exportd/exportd/internal/job"
	"github.com/exportd/exportd/internal/parquetw"
)

// progress shows an export's progress: on a terminal, one line per table
// redrawn in place; otherwise a line when each table is encoded.
type progress struct {
	w   io.Writer
	tty bool

	mu        sync.Mutex
	tables    []string
	rows      map[string]int64
	files     map[string]int
	bytes     map[string]int64
	done      map[string]bool
	delivered map[string]int
	screen    liveLines
	started   time.Time
}

var _ job.Observer = (*progress)(nil)

func newProgress(w io.Writer, tty bool) *progress {
	screen := liveLines{w: w}
	if f, ok := w.(*os.File); ok && tty {
		screen = newLiveLines(f)
	}
	return &progress{
		w: w, tty: tty, started: time.Now(), screen: screen,
		rows: map[string]int64{}, files: map[string]int{}, bytes: map[string]int64{},
		done: map[string]bool{}, delivered: map[string]int{},
	}
}

// start begins redrawing on a terminal and returns a function that draws
// the final state and stops.
func (p *progress) start() func() {
	if !p.tty {
		return func() {}
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				p.draw()
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
	return func() { close(stop); <-finished }
}

func (p *progress) TableStarted(_, table string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tables = append(p.tables, table)
}

func (p *progress) RowsEncoded(_, table string, n int64) {
	p.mu.Lock()
	p.rows[table] += n
	p.mu.Unlock()
}

func (p *progress) FileEncoded(_ string, f parquetw.File) {
	p.mu.Lock()
	p.files[f.Table]++
	p.bytes[f.Table] += f.Size
	p.mu.Unlock()
}

func (p *progress) FileDelivered(_, dest string, _ parquetw.File, _ time.Duration) {
	p.mu.Lock()
	p.delivered[dest]++
	p.mu.Unlock()
}

func (p *progress) TableEncoded(_ string, s parquetw.Summary) {
	p.mu.Lock()
	p.done[s.Table] = true
	p.rows[s.Table] = s.Rows
	p.mu.Unlock()
	if !p.tty {
		fmt.Fprintf(p.w, "encoded %-20s %10d rows %4d files %10s\n", s.Table, s.Rows, s.Files, humanBytes(s.Bytes))
	}
}

func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	var lines []string
	elapsed := time.Since(p.started).Seconds()
	for _, t := range p.tables {
		state := "encoding"
		if p.done[t] {
			state = "encoded "
		}
		lines = append(lines, fmt.Sprintf("%s %-20s %12d rows %4d files %10s", state, t, p.rows[t], p.files[t], humanBytes(p.bytes[t])))
	}
	var dests []string
	for d := range p.delivered {
		dests = append(dests, d)
	}
	sort.Strings(dests)
	var total int64
	for _, n := range p.rows {
		total += n
	}
	parts := make([]string, 0, len(dests))
	for _, d := range dests {
		parts = append(parts, fmt.Sprintf("%s %d", d, p.delivered[d]))
	}
	rate := 0.0
	if elapsed > 0 {
		rate = float64(total) / elapsed
	}
	lines = append(lines, fmt.Sprintf("%.0f rows/s; files delivered: %s", rate, strings.Join(parts, ", ")))
	p.screen.draw(lines)
}
