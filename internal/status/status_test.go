package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/state"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/internal/trigger"
	"github.com/exportd/exportd/sdk"
	"github.com/nats-io/nats.go/jetstream"
)

// fleet is a real NATS with the event stream, the daemons' consumer and
// the shared state, and a configuration naming the destinations.
type fleet struct {
	t    testing.TB
	cfg  *config.Config
	js   jetstream.JetStream
	cons jetstream.Consumer
	st   *state.Store
	r    *Reader
}

func newFleet(t testing.TB, retention string, hcl string) *fleet {
	t.Helper()
	src := fmt.Sprintf("data_dir = \"x\"\nnats {\n retention = %q\n}\nsource \"sample\" {}\n%s", retention, hcl)
	cfg, diags := config.Parse([]byte(src), "test.hcl", t.TempDir())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx := context.Background()
	_, js := testsupport.StartNATS(t).Connect(t)
	cons, err := trigger.Setup(ctx, js, cfg.NATS, cfg.Jobs, "exportd.requests.>")
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(ctx, js, state.Options{Prefix: cfg.NATS.KVPrefix, LeaseTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{t: t, cfg: cfg, js: js, cons: cons, st: st}
	f.r = &Reader{State: st, JS: js, Stream: cfg.NATS.Stream, Consumer: cfg.NATS.Consumer, Catalog: ConfigCatalog{Config: cfg}}
	return f
}

func (f *fleet) publish(account string, n int) {
	f.t.Helper()
	for i := range n {
		ev := event.ModellingCompleted{AccountID: account, RunID: fmt.Sprintf("r%d", i), CompletedAt: time.Now().UTC()}
		if _, err := trigger.PublishEvent(context.Background(), f.js, ev); err != nil {
			f.t.Fatal(err)
		}
	}
}

// handle takes n events off the shared consumer as a daemon would, and
// acknowledges them.
func (f *fleet) handle(n int) {
	f.t.Helper()
	batch, err := f.cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		f.t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.DoubleAck(context.Background()); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *fleet) read(q Query) Report {
	f.t.Helper()
	rep, err := f.r.Read(context.Background(), q)
	if err != nil {
		f.t.Fatal(err)
	}
	return rep
}

const threeDestinations = `
destination "localfs" "acme-a" { account = "acme" }
destination "localfs" "acme-b" { account = "acme" }
destination "localfs" "globex-a" {
  account = "globex"
  enabled = false
}
`

// TestReport: every fact of the report comes from the shared state the
// engine writes, and each destination's state word follows from them.
func TestReport(t *testing.T) {
	f := newFleet(t, "limits", threeDestinations)
	ctx := context.Background()
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	run := event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: at.Add(-time.Minute)}
	if _, err := f.st.RecordRun(ctx, run, time.Now()); err != nil {
		t.Fatal(err)
	}
	// acme-a: a dump that re-exported events and carried companies.
	if _, _, err := f.st.Reserve(ctx, "acme-a", at.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	commit := func(name string, t0 time.Time, m []state.ManifestTable) {
		c := state.Commit{CommitIntent: state.CommitIntent{Completion: "r1", Run: run, Time: t0, Manifest: m}, Receipt: sdk.Receipt{Location: "/x/receipt.json"}}
		if err := f.st.RecordCommit(ctx, name, c); err != nil {
			t.Fatal(err)
		}
	}
	commit("acme-a", at.Add(-time.Hour), []state.ManifestTable{{Name: "companies", Files: 1, Rows: 10, Bytes: 100}, {Name: "events", Files: 2, Rows: 20, Bytes: 200}})
	commit("acme-a", at, []state.ManifestTable{{Name: "companies", Files: 1, Rows: 10, Bytes: 100, Carried: at.Add(-time.Hour)}, {Name: "events", Files: 3, Rows: 30, Bytes: 300}})
	// A failure before that dump is history, not current.
	if err := f.st.RecordFailure(ctx, "acme-a", state.Failure{At: at.Add(-time.Minute), Account: "acme", Attempt: 1, MaxAttempts: 3, Error: "old"}); err != nil {
		t.Fatal(err)
	}
	// acme-b: failing, retried later, and a job holds it now.
	if err := f.st.RecordFailure(ctx, "acme-b", state.Failure{At: at, Account: "acme", RunID: "r1", JobID: "run-x", Attempt: 2, MaxAttempts: 3, Error: "put: refused", Kind: "retryable", RetryAt: at.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	// A daemon outside the configuration's knowledge: in the state only.
	if err := f.st.RecordFailure(ctx, "old-dest", state.Failure{At: at, Account: "acme", Attempt: 3, MaxAttempts: 3, Error: "gone", Final: true}); err != nil {
		t.Fatal(err)
	}
	f.publish("acme", 3)
	f.publish("globex", 2)

	rep := f.read(Query{})
	byName := map[string]Destination{}
	var names []string
	for _, d := range rep.Destinations {
		byName[d.Name] = d
		names = append(names, d.Name)
	}
	if got := strings.Join(names, " "); got != "acme-a acme-b globex-a old-dest" {
		t.Fatalf("destinations: %s", got)
	}
	a := byName["acme-a"]
	if a.State != StateOK || a.LastDump == nil || !a.LastDump.Time.Equal(at) || a.LastDump.Files != 4 || a.LastDump.Rows != 40 ||
		a.LastDump.Bytes != 400 || a.LastDump.Tables != 2 || a.LastDump.CarriedTables != 1 || a.LastDump.RunID != "r1" {
		t.Errorf("acme-a: %+v %+v", a, a.LastDump)
	}
	if a.LastFailure == nil || a.LastFailure.Current || a.LatestRun == nil || !a.LatestRun.Dumped || a.Waiting.Events != 3 {
		t.Errorf("acme-a: %+v", a)
	}
	b := byName["acme-b"]
	if b.State != StateRetrying || b.LastFailure == nil || !b.LastFailure.Current || b.LastFailure.Attempt != 2 || b.LastDump != nil || b.LatestRun.Dumped {
		t.Errorf("acme-b: %+v", b)
	}
	if g := byName["globex-a"]; g.State != StateDisabled || g.Waiting.Events != 2 || g.Enabled {
		t.Errorf("globex-a: %+v", g)
	}
	if o := byName["old-dest"]; o.Configured || o.State != StateFailed || o.Account != "acme" {
		t.Errorf("old-dest: %+v", o)
	}
	if s := rep.Stream; s == nil || s.Pending != 5 || s.Counted != 5 || !s.Complete {
		t.Errorf("stream: %+v", s)
	}

	// A job takes acme-b's lease and records its commit intent.
	lease, err := f.st.Acquire(ctx, "acme-b", state.LeaseHolder{Owner: "host:42", Job: "run-y", Since: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if b := f.read(Query{Destination: "acme-b"}).Destinations[0]; b.State != StateExporting || b.InFlight == nil || b.InFlight.Replica != "host:42" || b.InFlight.JobID != "run-y" {
		t.Errorf("acme-b leased: %+v", b)
	}
	if err := f.st.RecordIntent(ctx, "acme-b", state.CommitIntent{Completion: "r1", Run: run, Time: at.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// The holder died between its commit and the record of it.
	if b := f.read(Query{Destination: "acme-b"}).Destinations[0]; b.State != StateCommitPending || b.Committing == nil || b.InFlight != nil {
		t.Errorf("acme-b after a crash while committing: %+v", b)
	}
}

// TestQueries: an account or a destination narrows the report, and the
// counts of waiting events stay right for it.
func TestQueries(t *testing.T) {
	f := newFleet(t, "limits", threeDestinations)
	f.publish("acme", 3)
	f.publish("globex", 2)
	f.handle(2) // a daemon handled acme's first two events
	tests := []struct {
		name  string
		q     Query
		dests string
		wait  map[string]int
	}{
		{"all", Query{}, "acme-a acme-b globex-a", map[string]int{"acme-a": 1, "acme-b": 1, "globex-a": 2}},
		{"an account", Query{Account: "globex"}, "globex-a", map[string]int{"globex-a": 2}},
		{"a destination", Query{Destination: "acme-b"}, "acme-b", map[string]int{"acme-b": 1}},
		{"an unknown destination", Query{Destination: "nope"}, "", map[string]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := f.read(tt.q)
			var names []string
			for _, d := range rep.Destinations {
				names = append(names, d.Name)
				if d.Waiting.Events != tt.wait[d.Name] {
					t.Errorf("%s: %d events waiting, want %d", d.Name, d.Waiting.Events, tt.wait[d.Name])
				}
			}
			if got := strings.Join(names, " "); got != tt.dests {
				t.Errorf("destinations %q, want %q", got, tt.dests)
			}
			if rep.Stream.Pending != 3 {
				t.Errorf("stream: %+v", rep.Stream)
			}
		})
	}
	// The counting consumer is gone once the report is read.
	if n := consumers(t, f); n != 1 {
		t.Fatalf("%d consumers on the stream after the reports", n)
	}
}

// TestWaitingBeyondTheScan: past MaxScan, the counts are marked
// incomplete; the stream's total stays exact.
func TestWaitingBeyondTheScan(t *testing.T) {
	f := newFleet(t, "limits", threeDestinations)
	f.publish("acme", 4)
	f.publish("globex", 4)
	f.r.MaxScan = 5
	rep := f.read(Query{})
	if s := rep.Stream; s.Pending != 8 || s.Counted != 5 || s.Complete {
		t.Fatalf("stream: %+v", s)
	}
	if a := rep.Destinations[0]; a.Name != "acme-a" || a.Waiting.Events != 4 {
		t.Fatalf("acme-a: %+v", a)
	}
}

// TestWaitingInAWorkQueue: a workqueue stream admits no second consumer;
// its counts per subject are the events not yet acknowledged.
func TestWaitingInAWorkQueue(t *testing.T) {
	f := newFleet(t, "workqueue", threeDestinations)
	f.publish("acme", 3)
	f.publish("globex", 2)
	f.handle(2)
	for _, q := range []Query{{}, {Account: "acme"}} {
		rep := f.read(q)
		if s := rep.Stream; s.Pending != 3 || s.Counted == 0 || !s.WithInProgress || s.Retention != "workqueue" {
			t.Fatalf("%+v: stream: %+v", q, s)
		}
		for _, d := range rep.Destinations {
			want := map[string]int{"acme-a": 1, "acme-b": 1, "globex-a": 2}[d.Name]
			if d.Waiting.Events != want {
				t.Errorf("%+v: %s: %d events waiting, want %d", q, d.Name, d.Waiting.Events, want)
			}
		}
	}
}

// TestEndpoint: /v1/status serves the report as JSON, refuses bad
// queries, and says it is starting until it has a reader.
func TestEndpoint(t *testing.T) {
	f := newFleet(t, "limits", threeDestinations)
	f.publish("acme", 1)
	ep := NewEndpoint()
	srv := httptest.NewServer(ep)
	t.Cleanup(srv.Close)
	get := func(path string) (int, []byte) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	if code, body := get("/v1/status"); code != http.StatusServiceUnavailable || !strings.Contains(string(body), "starting") {
		t.Fatalf("before a reader: %d %s", code, body)
	}
	ep.SetReader(f.r)
	code, body := get("/v1/status?account=acme")
	var rep Report
	if err := json.Unmarshal(body, &rep); code != http.StatusOK || err != nil || len(rep.Destinations) != 2 || rep.Destinations[0].Waiting.Events != 1 {
		t.Fatalf("%d %s %v", code, body, err)
	}
	if code, _ := get("/v1/status?destination=a.b"); code != http.StatusBadRequest {
		t.Fatalf("a bad destination name: %d", code)
	}
}

func consumers(t *testing.T, f *fleet) int {
	t.Helper()
	st, err := f.js.Stream(context.Background(), f.cfg.NATS.Stream)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range st.ListConsumers(context.Background()).Info() {
		n++
	}
	return n
}
