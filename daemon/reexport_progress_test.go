package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/exportd/exportd/internal/event"
)

// TestReexportProgress runs the real daemon and `exportd reexport -wait`
// twice at once, for two destinations each: on a pseudo-terminal it
// redraws one line per destination in place, showing progress, and ends
// with each destination's outcome; with its output in a pipe it prints
// plain lines, a few per destination (a line per table encoded at most),
// and the outcomes.
func TestReexportProgress(t *testing.T) {
	t.Parallel()
	r := newFleetRig(t, bigRows, []rigDest{{"tty-a", "acme", ""}, {"tty-b", "acme", ""}, {"plain-a", "acme", ""}, {"plain-b", "acme", ""}})
	d := startDaemon(t, r.cfg)
	d.waitLog(t, "exportd running", 60*time.Second)
	_, js := r.nats.Connect(t)
	publish(t, js, event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC()})
	for _, name := range []string{"tty-a", "tty-b", "plain-a", "plain-b"} {
		r.final(name, 2*time.Minute)
	}

	bin := exportdBinary(t)
	args := func(a, b string) []string {
		return []string{"reexport", "-nats", r.nats.URL, "-account", "acme", "-destination", a, "-destination", b, "-wait", "-timeout", "4m"}
	}
	var wg sync.WaitGroup
	var ttyOut, plainOut []byte
	var ttyErr, plainErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		ttyOut, ttyErr = runOnTerminal(exec.Command(bin, args("tty-a", "tty-b")...))
	}()
	go func() {
		defer wg.Done()
		plainOut, plainErr = exec.Command(bin, args("plain-a", "plain-b")...).CombinedOutput()
	}()
	wg.Wait()
	if ttyErr != nil || plainErr != nil {
		t.Fatalf("on a terminal: %v\n%q\nplain: %v\n%s", ttyErr, ttyOut, plainErr, plainOut)
	}

	// A terminal: redrawn in place; the last drawing shows the outcomes.
	tty := string(ttyOut)
	if !strings.Contains(tty, "\x1b[2A") || !strings.Contains(tty, "\x1b[2K") {
		t.Errorf("nothing was redrawn in place:\n%q", tty)
	}
	for _, dest := range []string{"tty-a", "tty-b"} {
		if !strings.Contains(tty, dest+": exporting: ") {
			t.Errorf("%s: no progress was shown:\n%q", dest, tty)
		}
	}
	screen := &vt{}
	screen.Write(bytes.ReplaceAll(ttyOut, []byte("\r\n"), []byte("\n")))
	rows := screen.screen()
	for len(rows) > 0 && rows[len(rows)-1] == "" {
		rows = rows[:len(rows)-1]
	}
	want := fmt.Sprintf("committed %d rows in ", sumRows(bigRows))
	if len(rows) != 3 || !strings.HasPrefix(rows[0], "job reexport-") ||
		!strings.HasPrefix(rows[1], "tty-a: "+want) || !strings.HasPrefix(rows[2], "tty-b: "+want) {
		t.Errorf("the terminal shows at the end:\n%s", strings.Join(rows, "\n"))
	}

	// A pipe: plain lines, a few per destination, then the outcomes.
	plain := string(plainOut)
	if strings.Contains(plain, "\x1b") {
		t.Errorf("escape sequences in plain output:\n%q", plain)
	}
	for _, dest := range []string{"plain-a", "plain-b"} {
		n := strings.Count(plain, dest+": exporting: ")
		if n == 0 || n > 7 {
			t.Errorf("%s: %d progress lines:\n%s", dest, n, plain)
		}
		if !strings.Contains(plain, dest+": "+want) {
			t.Errorf("%s: no outcome:\n%s", dest, plain)
		}
	}
	t.Logf("on a terminal:\n%q\nplain:\n%s", tty, plain)
}

// runOnTerminal runs cmd with a pseudo-terminal of 120 columns as its
// standard output, input and error, and returns what it wrote.
func runOnTerminal(cmd *exec.Cmd) ([]byte, error) {
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out bytes.Buffer
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(&out, f)
		copied <- err
	}()
	werr := cmd.Wait()
	if err := <-copied; err != nil && !errors.Is(err, syscall.EIO) { // EIO: the terminal's other end closed
		return out.Bytes(), err
	}
	return out.Bytes(), werr
}
