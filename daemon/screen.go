package main

import (
	"io"
	"os"
	"strconv"

	"golang.org/x/term"
	"strings"
)

// liveLines redraws a block of lines in place on a terminal: each draw
// moves the cursor back to the block's first line and rewrites every
// line, so that the block stays where it is while its lines change.
// Lines are cut to the terminal's width: a wrapped line would take two
// rows and throw the count off.
type liveLines struct {
	w     io.Writer
	width int // columns; 0: unknown, lines are not cut
	drawn int
}

// newLiveLines returns a block drawn on f, a terminal.
func newLiveLines(f *os.File) liveLines {
	w, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		w = 0
	}
	return liveLines{w: f, width: w}
}

// draw replaces the block with lines, in one write.
func (l *liveLines) draw(lines []string) {
	var b strings.Builder
	if l.drawn > 0 {
		b.WriteString("\x1b[" + strconv.Itoa(l.drawn) + "A") // back to the first line
	}
	for _, s := range lines {
		if r := []rune(s); l.width > 1 && len(r) >= l.width {
			s = string(r[:l.width-2]) + "…"
		}
		b.WriteString("\x1b[2K") // clear the line
		b.WriteString(s)
		b.WriteByte('\n')
	}
	for i := len(lines); i < l.drawn; i++ { // a shorter block: clear what is left
		b.WriteString("\x1b[2K\n")
	}
	l.drawn = max(len(lines), l.drawn)
	_, _ = io.WriteString(l.w, b.String())
}
