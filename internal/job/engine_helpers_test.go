package job

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/state"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/internal/trigger"
	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/legacylayout"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// fakeClock moves only when set or slept on, so that waiting for the
// next free minute takes no time in a test and can be checked.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept += d
	return ctx.Err()
}

// set moves the clock to t and forgets what was slept.
func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now, c.slept = t, 0
}

func (c *fakeClock) sleptFor() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}

// fixture is an engine on real parts: an in-process NATS with the event
// stream and the shared state, the sample source, and the real localfs
// plugin with one destination per name, all of account acme.
type fixture struct {
	t     *testing.T
	e     *Engine
	clock *fakeClock
	roots map[string]string
	nc    *nats.Conn
	js    jetstream.JetStream
	cons  jetstream.Consumer
}

func newFixture(t *testing.T, jobs string, dests ...string) *fixture {
	t.Helper()
	var hcl strings.Builder
	hcl.WriteString("data_dir = \"x\"\njobs {\n" + jobs + "\n}\nsource \"sample\" {}\n")
	for _, d := range dests {
		hcl.WriteString("destination \"localfs\" \"" + d + "\" { account = \"acme\" }\n")
	}
	cfg, diags := config.Parse([]byte(hcl.String()), "test.hcl", t.TempDir())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx := context.Background()
	nc, js := testsupport.StartNATS(t).Connect(t)
	cons, err := trigger.Setup(ctx, js, cfg.NATS, cfg.Jobs, QueueSubjectPrefix+">")
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(ctx, js, state.Options{Prefix: "test", LeaseTTL: cfg.Jobs.LeaseTTL})
	if err != nil {
		t.Fatal(err)
	}
	runner, _ := newRunner(t, smallRows, nil)
	destinations, roots := launchLocalfs(t, dests...)
	f := &fixture{t: t, clock: &fakeClock{now: time.Now().UTC()}, roots: roots, nc: nc, js: js, cons: cons}
	f.e = &Engine{
		Config:  cfg,
		Runner:  runner,
		State:   st,
		Catalog: fixedCatalog{cfg: cfg, dests: destinations},
		Bus:     &trigger.Bus{NC: nc, JS: js, Stream: cfg.NATS.Stream},
		Owner:   "test",
		Clock:   f.clock,
	}
	return f
}

// fixedCatalog is the destinations of a configuration, configured once.
type fixedCatalog struct {
	cfg   *config.Config
	dests map[string]sdk.Destination
}

func (c fixedCatalog) Destinations(account string) *DestinationSet {
	set := &DestinationSet{}
	for _, d := range c.cfg.Destinations {
		if dest, ok := c.dests[d.Name]; ok && d.Enabled && d.Account == account {
			set.List = append(set.List, Destination{Name: d.Name, Account: d.Account, Tables: d.Tables,
				Open: func(context.Context) (sdk.Destination, error) { return dest, nil }})
		}
	}
	return set
}

// delivery is the attempt-th delivery of an event, as the consumer would
// hand it to the engine.
func delivery(ev event.ModellingCompleted, attempt int) trigger.Delivery {
	return trigger.Delivery{Subject: event.Subject(ev.AccountID), Data: ev.Encode(), Attempt: attempt, StreamSeq: 1, Published: time.Now()}
}

// deliveryOf turns a fetched message into a delivery.
func deliveryOf(m jetstream.Msg, md *jetstream.MsgMetadata) trigger.Delivery {
	return trigger.Delivery{Subject: m.Subject(), Data: m.Data(), Attempt: int(md.NumDelivered), StreamSeq: md.Sequence.Stream, Published: md.Timestamp}
}

// receipt reads a destination's receipt; the zero receipt when absent.
func (f *fixture) receipt(dest string) (legacylayout.Receipt, time.Time, []byte) {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.roots[dest], legacylayout.ReceiptName))
	if os.IsNotExist(err) {
		return legacylayout.Receipt{}, time.Time{}, nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	rc, ts, err := legacylayout.ParseReceipt(b)
	if err != nil {
		f.t.Fatal(err)
	}
	return rc, ts, b
}

// requireComplete fails unless every folder the receipt names holds the
// number of files it says.
func (f *fixture) requireComplete(dest string, rc legacylayout.Receipt) {
	f.t.Helper()
	for name, tb := range rc.Tables {
		files, _ := filepath.Glob(filepath.Join(f.roots[dest], filepath.FromSlash(tb.Folder), "*"+legacylayout.FileSuffix))
		if len(files) != tb.TotalFileCount || tb.TotalFileCount == 0 {
			f.t.Errorf("%s: folder %s holds %d files, the receipt says %d", name, tb.Folder, len(files), tb.TotalFileCount)
		}
	}
}

// advisories collects what is published on the advisory subject.
func (f *fixture) advisories() func() []Advisory {
	var mu sync.Mutex
	var got []Advisory
	sub, err := f.nc.Subscribe(AdvisorySubject, func(m *nats.Msg) {
		var a Advisory
		if json.Unmarshal(m.Data, &a) == nil {
			mu.Lock()
			got = append(got, a)
			mu.Unlock()
		}
	})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { sub.Unsubscribe() })
	return func() []Advisory {
		f.nc.Flush()
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		return append([]Advisory(nil), got...)
	}
}
