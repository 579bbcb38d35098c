package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/exportd/exportd/internal/job"
	"github.com/nats-io/nats.go"
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

	// Subscribe before asking, so that no outcome can be missed.
	outcomes := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe(job.OutcomesSubjectPrefix+*account+".*", outcomes)
	if err != nil {
		fmt.Fprintf(os.Stderr, "exportd reexport: %v\n", err)
		return 1
	}
	defer sub.Unsubscribe()

	body, _ := json.Marshal(job.ReexportRequest{Destinations: dests, Tables: tables, RunID: *runID})
	msg, err := nc.RequestWithContext(ctx, job.ReexportSubjectPrefix+*account, body)
	if err != nil {
		fmt.Fprintf(os.Stderr, "exportd reexport: no answer from a daemon: %v\n", err)
		return 1
	}
	var reply job.ReexportReply
	if err := json.Unmarshal(msg.Data, &reply); err != nil {
		fmt.Fprintf(os.Stderr, "exportd reexport: unreadable answer: %v\n", err)
		return 1
	}
	if reply.Error != "" {
		fmt.Fprintf(os.Stderr, "exportd reexport: refused: %s\n", reply.Error)
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
		case m := <-outcomes:
			var o job.OutcomeMessage
			if json.Unmarshal(m.Data, &o) != nil || o.JobID != reply.JobID {
				continue
			}
			switch o.Status {
			case job.StatusCommitted:
				fmt.Printf("%s: committed %d rows in %d files; receipt %s\n", o.Destination, o.Rows, o.Files, o.Location)
			case job.StatusRetrying:
				fmt.Printf("%s: attempt %d failed, will retry: %s\n", o.Destination, o.Attempt, o.Error)
			case job.StatusWaiting, job.StatusInterrupted:
				fmt.Printf("%s: %s: %s\n", o.Destination, o.Status, o.Error)
			default:
				fmt.Printf("%s: %s: %s\n", o.Destination, o.Status, o.Error)
				code = 1
			}
			if o.Final {
				delete(pending, o.Destination)
			}
		}
	}
	return code
}
