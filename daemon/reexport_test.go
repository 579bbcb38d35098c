package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/job"
	"github.com/exportd/exportd/sdk/legacylayout"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestReexport: a re-export request answers at once with a job id; the
// job goes through the event stream and its outcome, with the receipt,
// arrives on the jobs subject. The command line does the same and waits.
func TestReexport(t *testing.T) {
	t.Parallel()
	c := newCluster(t, []string{"acme"}, sampleRows)
	c.retention = "workqueue" // re-exports work whatever the stream keeps
	c.start()
	c.publish(event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC()})
	waitFile(t, filepath.Join(c.out, "acme", "dumps", "receipt.json"), time.Minute)
	c.settle(time.Minute)
	_, first, _ := legacylayout.ParseReceipt(c.receipt("acme"))
	if st, err := c.js.Stream(t.Context(), config.DefaultStream); err != nil || st.CachedInfo().Config.Retention != jetstream.WorkQueuePolicy {
		t.Fatalf("stream retention: %v", err)
	}

	outcomes := make(chan *nats.Msg, 16)
	if _, err := c.nc.ChanSubscribe(job.OutcomeSubject("acme", "acme-local"), outcomes); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	msg, err := c.nc.Request(job.ReexportSubjectPrefix+"acme", []byte(`{"tables":["events"]}`), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var reply job.ReexportReply
	if err := json.Unmarshal(msg.Data, &reply); err != nil || reply.Error != "" || reply.JobID == "" {
		t.Fatalf("reply %s: %v", msg.Data, err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the reply took %v; it must come at once", took)
	}
	if reply.RunID != "run-1" || len(reply.Destinations) != 1 {
		t.Fatalf("reply %+v", reply)
	}
	var o job.OutcomeMessage
	select {
	case m := <-outcomes:
		json.Unmarshal(m.Data, &o)
	case <-time.After(time.Minute):
		t.Fatal("no outcome for the re-export")
	}
	if o.JobID != reply.JobID || o.Status != job.StatusCommitted || !o.Final {
		t.Fatalf("outcome %+v", o)
	}
	rc, second, err := legacylayout.ParseReceipt(c.receipt("acme"))
	if err != nil {
		t.Fatal(err)
	}
	if !second.After(first) || second.Truncate(time.Minute).Equal(first.Truncate(time.Minute)) {
		t.Fatalf("re-export at %v does not follow the first dump at %v in a later minute", second, first)
	}
	checkSubsetReceipt(t, filepath.Join(c.out, "acme"), "dumps", rc, first, second, "events")
	if string(o.Receipt) == "" || !json.Valid(o.Receipt) {
		t.Fatal("the outcome lacks the receipt")
	}

	// The command line: refusal, then a request that waits for its outcome.
	bin := exportdBinary(t)
	out, err := exec.Command(bin, "reexport", "-nats", c.nats.URL, "-account", "acme", "-destination", "nope").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refused: destination nope is not an enabled destination of account acme") {
		t.Fatalf("reexport to an unknown destination: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "reexport", "-nats", c.nats.URL, "-account", "acme", "-wait", "-timeout", "2m").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "acme-local: committed 24150 rows") {
		t.Fatalf("reexport -wait: %v\n%s", err, out)
	}
}

// TestFlood sends 1,000 malformed or hostile payloads at a running daemon,
// interleaved with valid events: it does not crash, gives each bad one up
// with a reason (one advisory each), and still exports the valid ones.
func TestFlood(t *testing.T) {
	t.Parallel()
	c := newCluster(t, []string{"acme", "globex"}, map[string]int64{"companies": 50, "contacts": 100, "events": 500, "revenue": 0, "revenue_attribution": 0, "paid_ads": 5})
	d := c.start()
	advisories := make(chan *nats.Msg, 2048)
	sub, err := c.nc.ChanSubscribe(job.AdvisorySubject, advisories)
	if err != nil {
		t.Fatal(err)
	}
	sub.SetPendingLimits(-1, -1)
	c.publish(event.ModellingCompleted{AccountID: "warmup", RunID: "warmup", CompletedAt: time.Now()})

	rng := rand.New(rand.NewPCG(1, 2))
	hostile := []func(i int) (string, []byte){
		func(i int) (string, []byte) { // random bytes
			b := make([]byte, rng.IntN(512))
			for j := range b {
				b[j] = byte(rng.UintN(256))
			}
			return "modelling.completed.acme", b
		},
		func(i int) (string, []byte) { // deeply nested JSON
			return "modelling.completed.acme", []byte(strings.Repeat("[", 5000) + strings.Repeat("]", 5000))
		},
		func(i int) (string, []byte) { // a big payload
			return "modelling.completed.acme", []byte(`{"account_id":"acme","run_id":"r","completed_at":"2024-01-01T00:00:00Z","snapshot":"` + strings.Repeat("x", 70_000) + `"}`)
		},
		func(i int) (string, []byte) { // account smuggling
			return "modelling.completed.acme", []byte(`{"account_id":"globex","run_id":"x","completed_at":"2024-01-01T00:00:00Z"}`)
		},
		func(i int) (string, []byte) { // path traversal in ids
			return "modelling.completed.acme", []byte(`{"account_id":"acme","run_id":"../../etc/passwd","completed_at":"2024-01-01T00:00:00Z"}`)
		},
		func(i int) (string, []byte) { // invalid UTF-8 in a string
			return "modelling.completed.acme", []byte("{\"account_id\":\"acme\",\"run_id\":\"r\xff\",\"completed_at\":\"2024-01-01T00:00:00Z\"}")
		},
		func(i int) (string, []byte) { // nulls and wrong types
			return "modelling.completed.acme", []byte(`{"account_id":null,"run_id":{},"completed_at":[]}`)
		},
		func(i int) (string, []byte) { // control characters
			return "modelling.completed.acme", []byte("{\"account_id\":\"acme\",\"run_id\":\"r\",\"completed_at\":\"2024-01-01T00:00:00Z\",\"snapshot\":\"a\\nb\"}")
		},
		func(i int) (string, []byte) { // a forged re-export
			return "exportd.requests.acme", []byte(`{"job_id":"x","event":{"account_id":"globex","run_id":"r","completed_at":"2024-01-01T00:00:00Z"},"destinations":["globex-local"]}`)
		},
		func(i int) (string, []byte) { // an empty body on a sub-subject
			return "modelling.completed.acme.extra", nil
		},
		func(i int) (string, []byte) { // a run that completed next year
			return "modelling.completed.acme", []byte(`{"account_id":"acme","run_id":"future-` + fmt.Sprint(i) + `","completed_at":"` +
				time.Now().UTC().AddDate(1, 0, 0).Format(time.RFC3339) + `"}`)
		},
	}
	const n = 1000
	valid := 0
	for i := range n {
		subject, body := hostile[i%len(hostile)](i)
		if _, err := c.js.Publish(t.Context(), subject, body, jetstreamMsgID(fmt.Sprintf("bad-%d", i))); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if i%250 == 0 {
			account := []string{"acme", "globex"}[valid%2]
			valid++
			c.publish(event.ModellingCompleted{AccountID: account, RunID: fmt.Sprintf("good-%d", valid), CompletedAt: time.Now().UTC()})
		}
	}
	got := 0
	deadline := time.After(3 * time.Minute)
	for got < n {
		select {
		case m := <-advisories:
			var a job.Advisory
			if err := json.Unmarshal(m.Data, &a); err != nil || a.Reason == "" {
				t.Fatalf("advisory %s: %v", m.Data, err)
			}
			got++
		case <-deadline:
			t.Fatalf("%d advisories of %d after 3 minutes", got, n)
		}
	}
	c.settle(2 * time.Minute)
	if d.cmd.ProcessState != nil || strings.Contains(d.out.String(), "panic") {
		t.Fatalf("the daemon died; output:\n%s", d.out)
	}
	for _, a := range []string{"acme", "globex"} {
		if c.receipt(a) == nil {
			t.Errorf("%s: the valid events were not exported", a)
		}
	}
}

// checkSubsetReceipt checks the receipt of a re-export of some tables:
// it names all six tables, the re-exported ones in the re-export's minute
// folder and the others in the full dump's, every folder it names holds
// the files it says, and its timestamp is a true time (the receipt was
// not written before it).
func checkSubsetReceipt(t *testing.T, root, folder string, rc legacylayout.Receipt, full, at time.Time, reexported ...string) {
	t.Helper()
	if len(rc.Tables) != 6 {
		t.Fatalf("the receipt names %d tables: %+v", len(rc.Tables), rc.Tables)
	}
	for name, tb := range rc.Tables {
		minute := full
		if slices.Contains(reexported, name) {
			minute = at
		}
		if want := folder + "/" + minute.UTC().Format(legacylayout.MinuteFormat) + "/" + name; tb.Folder != want {
			t.Errorf("%s is in %s, want %s", name, tb.Folder, want)
		}
		files, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(tb.Folder), "*"+legacylayout.FileSuffix))
		if len(files) != tb.TotalFileCount || tb.TotalFileCount == 0 {
			t.Errorf("%s: %s holds %d files, the receipt says %d", name, tb.Folder, len(files), tb.TotalFileCount)
		}
	}
	info, err := os.Stat(filepath.Join(root, folder, legacylayout.ReceiptName))
	if err != nil {
		t.Fatal(err)
	}
	if at.After(info.ModTime()) {
		t.Fatalf("the receipt written at %v says its dump started at %v", info.ModTime().UTC(), at)
	}
}
