package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/job"
	"github.com/nats-io/nats.go"
	"golang.org/x/term"
)

func cmdReexport(args []string) int {
	fs := newFlags("reexport", "(-nats URL | -config FILE) -account ID [-destination NAME]... [-table NAME]... [-run-id ID] [-wait]")
	path := fs.String("config", "", "configuration `file` whose NATS to use")
	url := fs.String("nats", "", "NATS `url`")
	account := fs.String("account", "", "account `id`")
	runID := fs.String("run-id", "", "run to export (default: the account's latest)")
	var dests, tables listFlag
	fs.Var(&dests, "destination", "destination `name` (repeatable; default: all of the account's)")
	fs.Var(&tables, "table", "table `name` (repeatable; default: all)")
	wait := fs.Bool("wait", false, "wait for every destination's outcome and print it")
	timeout := fs.Duration("timeout", time.Hour, "how long -wait waits")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *account == "" {
		fmt.Fprintln(os.Stderr, "exportd reexport: -account is required")
		return 2
	}
	u, cfg, err := natsURL(*url, *path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "exportd reexport: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	nc, err := dial(ctx, u, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "exportd reexport: %v\n", err)
		return 1
	}
	defer nc.Close()

	// Subscribe before asking, so that nothing can be missed; outcomes and
	// progress share one channel, so that they arrive in the order the
	// daemon published them.
	msgs := make(chan *nats.Msg, 256)
	for _, subject := range []string{job.OutcomesSubjectPrefix + *account + ".*", job.ProgressSubjectPrefix + *account + ".*"} {
		sub, err := nc.ChanSubscribe(subject, msgs)
		if err != nil {
			fmt.Fprintf(os.Stderr, "exportd reexport: %v\n", err)
			return 1
		}
		defer sub.Unsubscribe()
	}

	reply, ok := requestReexport(ctx, nc, *account, job.ReexportRequest{Destinations: dests, Tables: tables, RunID: *runID})
	if !ok {
		return 1
	}
	if reply.Joined {
		fmt.Printf("job %s (joined, queued before): run %s to %v\n", reply.JobID, reply.RunID, reply.Destinations)
	} else {
		fmt.Printf("job %s: run %s to %v\n", reply.JobID, reply.RunID, reply.Destinations)
	}
	if !*wait {
		return 0
	}
	var screen *liveLines
	if term.IsTerminal(int(os.Stdout.Fd())) {
		s := newLiveLines(os.Stdout)
		screen = &s
	}
	view := newReexportView(os.Stdout, screen, reply.Destinations)
	return waitReexport(ctx, msgs, reply, view)
}

// requestReexport asks the daemons for a re-export and prints why when
// it was not accepted.
func requestReexport(ctx context.Context, nc *nats.Conn, account string, req job.ReexportRequest) (job.ReexportReply, bool) {
	var reply job.ReexportReply
	body, _ := json.Marshal(req)
	msg, err := nc.RequestWithContext(ctx, job.ReexportSubjectPrefix+account, body)
	if err != nil {
		fmt.Fprintf(os.Stderr, "exportd reexport: no answer from a daemon: %v\n", err)
		return reply, false
	}
	if err := json.Unmarshal(msg.Data, &reply); err != nil {
		fmt.Fprintf(os.Stderr, "exportd reexport: unreadable answer: %v\n", err)
		return reply, false
	}
	if reply.Error != "" {
		fmt.Fprintf(os.Stderr, "exportd reexport: refused: %s\n", reply.Error)
		return reply, false
	}
	return reply, true
}

// waitReexport shows the job's progress and outcomes until every
// destination's outcome is final; it returns the exit code.
func waitReexport(ctx context.Context, msgs <-chan *nats.Msg, reply job.ReexportReply, view *reexportView) int {
	pending := map[string]bool{}
	for _, d := range reply.Destinations {
		pending[d] = true
	}
	code := 0
	for len(pending) > 0 {
		select {
		case <-ctx.Done():
			fmt.Fprintf(os.Stderr, "exportd reexport: gave up waiting for %d destination(s)\n", len(pending))
			return 1
		case m := <-msgs:
			if strings.HasPrefix(m.Subject, job.ProgressSubjectPrefix) {
				var p job.ProgressMessage
				if json.Unmarshal(m.Data, &p) == nil && p.JobID == reply.JobID {
					view.progress(p)
				}
				continue
			}
			var o job.OutcomeMessage
			if json.Unmarshal(m.Data, &o) != nil || o.JobID != reply.JobID {
				continue
			}
			if view.outcome(o) {
				code = 1
			}
			if o.Final {
				delete(pending, o.Destination)
			}
		}
	}
	return code
}
