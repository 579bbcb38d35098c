package state

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
	"github.com/nats-io/nats.go/jetstream"
)

// seedFleet gives a store two accounts' worth of state: acme's two
// destinations (one committed, one failing and leased), globex's one
// (committed), their latest runs, and a re-export queued for acme.
func seedFleet(t *testing.T, s *Store) time.Time {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2024, 5, 1, 10, 30, 15, 0, time.UTC)
	for _, d := range []struct{ name, account string }{{"acme-a", "acme"}, {"globex-a", "globex"}} {
		run := event.ModellingCompleted{AccountID: d.account, RunID: "r1", CompletedAt: at.Add(-time.Minute)}
		if _, err := s.RecordRun(ctx, run, at); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Reserve(ctx, d.name, at); err != nil {
			t.Fatal(err)
		}
		c := Commit{CommitIntent: CommitIntent{Completion: "r1", Run: run, Time: at, Manifest: []ManifestTable{
			{Name: "companies", Files: 1, Rows: 10, Bytes: 100}, {Name: "events", Files: 2, Rows: 20, Bytes: 200},
		}}, Receipt: sdk.Receipt{Location: "x/receipt.json"}}
		if err := s.RecordCommit(ctx, d.name, c); err != nil {
			t.Fatal(err)
		}
	}
	f := Failure{At: at.Add(time.Minute), Account: "acme", RunID: "r1", JobID: "run-1", Attempt: 2, MaxAttempts: 5, Error: "put: refused", Kind: "retryable", RetryAt: at.Add(2 * time.Minute)}
	if err := s.RecordFailure(ctx, "acme-b", f); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Acquire(ctx, "acme-b", LeaseHolder{Owner: "host:1", Job: "run-2", Since: at}); err != nil {
		t.Fatal(err)
	}
	p := PendingReexport{JobID: "reexport-1", RunID: "r1", Destinations: []string{"acme-a"}, RequestedAt: at}
	if _, _, err := s.QueueReexport(ctx, "acme", p, func(PendingReexport) bool { return false }, RateLimit{}, at); err != nil {
		t.Fatal(err)
	}
	return at
}

func TestReadFleet(t *testing.T) {
	s := open(t, time.Minute)
	at := seedFleet(t, s)
	tests := []struct {
		name         string
		q            FleetQuery
		destinations []string
		leases       []string
		accounts     []string
	}{
		{"everything", FleetQuery{}, []string{"acme-a", "acme-b", "globex-a"}, []string{"acme-b"}, []string{"acme", "globex"}},
		{"some keys", FleetQuery{Destinations: []string{"acme-b", "nope"}, Accounts: []string{"acme"}}, []string{"acme-b"}, []string{"acme-b"}, []string{"acme"}},
		{"no keys", FleetQuery{Destinations: []string{}, Accounts: []string{}}, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := s.ReadFleet(context.Background(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := keys(f.Destinations); fmt.Sprint(got) != fmt.Sprint(tt.destinations) {
				t.Errorf("destinations %v, want %v", got, tt.destinations)
			}
			if got := keys(f.Leases); fmt.Sprint(got) != fmt.Sprint(tt.leases) {
				t.Errorf("leases %v, want %v", got, tt.leases)
			}
			if got := keys(f.LatestRuns); fmt.Sprint(got) != fmt.Sprint(tt.accounts) {
				t.Errorf("latest runs %v, want %v", got, tt.accounts)
			}
		})
	}
	f, err := s.ReadFleet(context.Background(), FleetQuery{})
	if err != nil {
		t.Fatal(err)
	}
	a := f.Destinations["acme-a"]
	if !a.LastTime.Equal(at) || a.Account != "acme" || len(a.Tables) != 2 || a.LastFailure != nil {
		t.Errorf("acme-a: %+v", a)
	}
	b := f.Destinations["acme-b"]
	if b.LastFailure == nil || b.LastFailure.Attempt != 2 || b.Account != "acme" || !b.LastTime.IsZero() {
		t.Errorf("acme-b: %+v", b)
	}
	if l := f.Leases["acme-b"]; l.Owner != "host:1" || l.Job != "run-2" || time.Since(l.Renewed) > time.Minute {
		t.Errorf("lease: %+v", l)
	}
	if r := f.Reexports["acme"]; len(r.Pending) != 1 || r.Pending[0].JobID != "reexport-1" {
		t.Errorf("re-exports: %+v", r)
	}
}

// TestRecordFailureKeepsTheLatest: failures recorded out of order (two
// replicas) leave the latest; a commit keeps the failure and sets the
// account.
func TestRecordFailureKeepsTheLatest(t *testing.T) {
	s := open(t, time.Minute)
	ctx := context.Background()
	at := time.Date(2024, 5, 1, 10, 30, 0, 0, time.UTC)
	for _, f := range []Failure{{At: at.Add(time.Minute), Error: "newer", Account: "acme"}, {At: at, Error: "older", Account: "acme"}} {
		if err := s.RecordFailure(ctx, "d", f); err != nil {
			t.Fatal(err)
		}
	}
	d, err := s.Destination(ctx, "d")
	if err != nil || d.LastFailure == nil || d.LastFailure.Error != "newer" || d.Account != "acme" {
		t.Fatalf("%+v %v", d, err)
	}
}

// TestAttach: a reader attaches to the daemons' buckets without creating
// or changing any, and says so when there are none.
func TestAttach(t *testing.T) {
	_, js := testsupport.StartNATS(t).Connect(t)
	ctx := context.Background()
	if _, err := Attach(ctx, js, "test"); !errors.Is(err, ErrNoState) {
		t.Fatalf("attach before any daemon: %v", err)
	}
	if _, err := js.KeyValue(ctx, "test_destinations"); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("attach created a bucket: %v", err)
	}
	s, err := Open(ctx, js, Options{Prefix: "test", LeaseTTL: 42 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	seedFleet(t, s)
	r, err := Attach(ctx, js, "test")
	if err != nil {
		t.Fatal(err)
	}
	f, err := r.ReadFleet(ctx, FleetQuery{})
	if err != nil || len(f.Destinations) != 3 {
		t.Fatalf("%v %v", f.Destinations, err)
	}
	kv, _ := js.KeyValue(ctx, "test_leases")
	if st, _ := kv.Status(ctx); st.TTL() != 42*time.Second {
		t.Fatalf("the leases bucket's TTL is %v", st.TTL())
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
