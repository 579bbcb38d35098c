package status

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/state"
	"github.com/exportd/exportd/sdk"
)

// BenchmarkRead reads the status of a fleet of 2,000 destinations (one
// account each, six tables a dump), 200 of them with a failure on
// record, 20 exporting, and 500 events waiting, from an in-process NATS:
// the whole fleet, one account, one destination.
//
//	go test -run '^$' -bench Read ./internal/status
func BenchmarkRead(b *testing.B) {
	const n = 2000
	var hcl strings.Builder
	for i := range n {
		fmt.Fprintf(&hcl, "destination \"localfs\" \"d%04d\" { account = \"a%04d\" }\n", i, i)
	}
	f := newFleet(b, "limits", hcl.String())
	ctx := context.Background()
	at := time.Now().UTC().Add(-time.Hour)
	tables := []string{"companies", "contacts", "events", "revenue", "revenue_attribution", "paid_ads"}
	for i := range n {
		name, account := fmt.Sprintf("d%04d", i), fmt.Sprintf("a%04d", i)
		run := event.ModellingCompleted{AccountID: account, RunID: "r1", CompletedAt: at}
		if _, err := f.st.RecordRun(ctx, run, time.Now()); err != nil {
			b.Fatal(err)
		}
		var m []state.ManifestTable
		for _, tb := range tables {
			m = append(m, state.ManifestTable{Name: tb, Files: 1, Rows: 130, Bytes: 9000})
		}
		c := state.Commit{CommitIntent: state.CommitIntent{Completion: "r1", Run: run, Time: at, Manifest: m}, Receipt: sdk.Receipt{Location: "/srv/" + name + "/receipt.json", Body: make([]byte, 600)}}
		if err := f.st.RecordCommit(ctx, name, c); err != nil {
			b.Fatal(err)
		}
		if i%10 == 0 {
			if err := f.st.RecordFailure(ctx, name, state.Failure{At: at.Add(time.Minute), Account: account, Attempt: 1, MaxAttempts: 5, Error: "put: connection refused"}); err != nil {
				b.Fatal(err)
			}
		}
		if i%100 == 0 {
			if _, err := f.st.Acquire(ctx, name, state.LeaseHolder{Owner: "host:1", Job: "run-x", Since: at}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for i := range 500 {
		ev := event.ModellingCompleted{AccountID: fmt.Sprintf("a%04d", i*4), RunID: "r2", CompletedAt: time.Now().UTC()}
		if _, err := f.js.Publish(ctx, event.Subject(ev.AccountID), ev.Encode()); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("shared state only", func(b *testing.B) {
		for b.Loop() {
			if _, err := f.st.ReadFleet(ctx, state.FleetQuery{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("event stream only", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := f.r.waiting(ctx, "", true); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, q := range []Query{{}, {Account: "a0100"}, {Destination: "d0100"}} {
		b.Run(fmt.Sprintf("account=%q,destination=%q", q.Account, q.Destination), func(b *testing.B) {
			for b.Loop() {
				rep, err := f.r.Read(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				if len(rep.Destinations) == 0 || (q == Query{} && (len(rep.Destinations) != n || rep.Stream.Counted != 500)) {
					b.Fatalf("%d destinations, stream %+v", len(rep.Destinations), rep.Stream)
				}
			}
		})
	}
}
