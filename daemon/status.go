package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/state"
	"github.com/exportd/exportd/internal/status"
	"github.com/nats-io/nats.go/jetstream"
)

func cmdStatus(args []string) int {
	fs := newFlags("status", "(-config FILE | -nats URL) [-account ID] [-destination NAME] [-json]")
	path := fs.String("config", "", "configuration `file`: its NATS, KV prefix, stream and destinations")
	url := fs.String("nats", "", "NATS `url` (without -config: default prefix, stream and consumer names; destinations from the shared state)")
	account := fs.String("account", "", "only this account's destinations")
	dest := fs.String("destination", "", "only this destination, in detail")
	asJSON := fs.Bool("json", false, "print the report as JSON, as /v1/status serves it")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for NATS")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	rep, err := readStatus(*url, *path, status.Query{Account: *account, Destination: *dest}, *timeout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "exportd status: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return 0
	}
	if *dest != "" && len(rep.Destinations) == 0 {
		fmt.Fprintf(os.Stderr, "exportd status: destination %s is neither configured nor in the shared state\n", *dest)
		return 1
	}
	writeStatus(os.Stdout, rep, *dest != "", time.Now())
	return 0
}

// readStatus reads a report from the shared state, attaching to the
// daemons' buckets without creating or changing any.
func readStatus(url, path string, q status.Query, timeout time.Duration) (status.Report, error) {
	u, cfg, err := natsURL(url, path)
	if err != nil {
		return status.Report{}, err
	}
	if cfg == nil && path != "" {
		if cfg, _ = loadConfig(path); cfg == nil {
			return status.Report{}, fmt.Errorf("invalid configuration")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	nc, err := dial(ctx, u, cfg)
	if err != nil {
		return status.Report{}, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return status.Report{}, err
	}
	r := &status.Reader{JS: js, Stream: config.DefaultStream, Consumer: config.DefaultConsumer}
	prefix := config.DefaultKVPrefix
	if cfg != nil {
		prefix, r.Stream, r.Consumer = cfg.NATS.KVPrefix, cfg.NATS.Stream, cfg.NATS.Consumer
		r.Catalog = status.ConfigCatalog{Config: cfg}
	}
	if r.State, err = state.Attach(ctx, js, prefix); err != nil {
		return status.Report{}, err
	}
	return r.Read(ctx, q)
}

// writeStatus prints a report: a table of the destinations, then what
// needs an operator's eye (exports in flight, failures not followed by a
// dump, commits pending, runs not dumped yet). detail prints every fact
// of each destination instead.
func writeStatus(w io.Writer, rep status.Report, detail bool, now time.Time) {
	if s := rep.Stream; s != nil {
		fmt.Fprintf(w, "events: %d waiting, %d in progress, %d redelivered (stream %s, consumer %s)\n",
			s.Pending, s.InProgress, s.Redelivered, s.Name, s.Consumer)
		if !s.Complete {
			fmt.Fprintf(w, "  (waiting events per account: counted in the first %d only)\n", s.Counted)
		}
	}
	for _, warn := range rep.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	if len(rep.Destinations) == 0 {
		fmt.Fprintln(w, "no destination")
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DESTINATION\tACCOUNT\tSTATE\tLAST DUMP (T)\tAGE\tRUN\tFILES\tROWS\tBYTES\tWAITING")
	for _, d := range rep.Destinations {
		last := []string{"-", "-", "-", "-", "-", "-"}
		if l := d.LastDump; l != nil {
			last = []string{l.Time.UTC().Format(time.RFC3339), age(now.Sub(l.Time)), l.RunID,
				fmt.Sprint(l.Files), fmt.Sprint(l.Rows), humanBytes(l.Bytes)}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Name, orDash(d.Account), d.State, strings.Join(last, "\t"), waiting(d.Waiting))
	}
	tw.Flush()
	var notes []string
	for _, d := range rep.Destinations {
		notes = append(notes, notesOf(d, detail, now)...)
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, n)
		}
	}
}

// notesOf says what a table row cannot: in full for one destination, or
// only what needs attention.
func notesOf(d status.Destination, detail bool, now time.Time) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, d.Name+": "+fmt.Sprintf(format, args...)) }
	if f := d.InFlight; f != nil {
		add("exporting since %s (%s), job %s on %s; lease renewed %s ago",
			clock(f.Since), age(now.Sub(f.Since)), f.JobID, f.Replica, age(now.Sub(f.Renewed)))
	}
	if c := d.Committing; c != nil {
		add("commit of the dump at %s (run %s) recorded as about to happen; the next delivery makes it visible again if it did not finish",
			c.Time.UTC().Format(time.RFC3339), c.RunID)
	}
	if f := d.LastFailure; f != nil && (f.Current || detail) {
		when := "last failure"
		if !f.Current {
			when = "last failure (a dump committed since)"
		}
		next := ""
		switch {
		case f.Final:
			next = "; given up"
		case !f.RetryAt.IsZero():
			next = "; next attempt from " + clock(f.RetryAt)
		}
		add("%s at %s (%s ago), run %s, attempt %d of %d (%s): %s%s",
			when, clock(f.At), age(now.Sub(f.At)), f.RunID, f.Attempt, f.MaxAttempts, f.Kind, f.Error, next)
	}
	if r := d.LatestRun; r != nil && (!r.Dumped || detail) {
		dumped := "not dumped yet"
		if r.Dumped {
			dumped = "dumped"
		}
		add("latest run %s completed at %s: %s", r.RunID, clock(r.CompletedAt), dumped)
	}
	if detail {
		if l := d.LastDump; l != nil {
			carried := ""
			if l.CarriedTables > 0 {
				carried = fmt.Sprintf(", %d carried from earlier dumps", l.CarriedTables)
			}
			add("last dump at %s of run %s: %d tables%s, %d files, %d rows, %s; receipt %s",
				l.Time.UTC().Format(time.RFC3339Nano), l.RunID, l.Tables, carried, l.Files, l.Rows, humanBytes(l.Bytes), orDash(l.Location))
		}
		if !d.Configured {
			add("not in the configuration; known from the shared state only")
		}
	}
	return out
}

func waiting(w status.WaitingCount) string {
	if w.Events == 0 && w.Reexports == 0 {
		return "-"
	}
	var parts []string
	if w.Events > 0 {
		parts = append(parts, plural(w.Events, "event"))
	}
	if w.Reexports > 0 {
		parts = append(parts, plural(w.Reexports, "re-export"))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clock prints a time of day in UTC, with the date when it is not today.
func clock(t time.Time) string {
	t = t.UTC()
	if t.Format(time.DateOnly) == time.Now().UTC().Format(time.DateOnly) {
		return t.Format(time.TimeOnly) + "Z"
	}
	return t.Format(time.RFC3339)
}

// age prints a duration the way people say it: 45s, 12m, 3h5m, 2d4h.
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}
