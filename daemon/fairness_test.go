package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/job"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/nats-io/nats.go"
)

// TestSmallAccountsFlowBesideLargeOnes: a daemon with four workers gets
// six accounts' events whose exports are large (1.3 million rows each, and
// never exported before, so nothing says they are large until they
// encode), then fifty small accounts' events. The small ones do not wait
// behind the large ones: every small account commits before any large
// one does. The order is asserted, not the time it takes.
func TestSmallAccountsFlowBesideLargeOnes(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes eight million rows")
	}
	const bigs, smalls = 6, 50
	n := testsupport.StartNATS(t)
	nc, js := n.Connect(t)
	out := t.TempDir()

	var mu sync.Mutex
	var order []job.OutcomeMessage // final outcomes, in arrival order
	var retried []string
	sub, err := nc.Subscribe(job.OutcomesSubjectPrefix+">", func(m *nats.Msg) {
		var o job.OutcomeMessage
		if json.Unmarshal(m.Data, &o) != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case o.Final:
			order = append(order, o)
		case o.Status == job.StatusRetrying:
			retried = append(retried, o.Account+": "+o.Error)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	var accounts []string
	for i := range bigs {
		accounts = append(accounts, fmt.Sprintf("big%d", i))
	}
	for i := range smalls {
		accounts = append(accounts, fmt.Sprintf("small%02d", i))
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, `
data_dir   = %q
plugin_dir = %q
nats { url = %q }
http { listen = "" }
jobs { workers = 4 }
# A big account's scale is 100: 1.32 million rows over six tables.
source "sample" { scale = replace(event.account_id, "big", "") != event.account_id ? 100 : 0.01 }
`, t.TempDir(), testsupport.PluginDir(t, "localfs"), n.URL)
	for _, a := range accounts {
		fmt.Fprintf(&cfg, "destination \"localfs\" %q {\n  account = %q\n  path = %q\n  fsync = false\n}\n", a, a, filepath.Join(out, a))
	}
	d := startDaemon(t, writeConfig(t, cfg.String()))
	d.waitLog(t, "exportd running", time.Minute)

	now := time.Now().UTC().Add(-time.Minute)
	for _, a := range accounts[:bigs] {
		publish(t, js, event.ModellingCompleted{AccountID: a, RunID: "r1", CompletedAt: now})
	}
	// The large exports are under way before the small accounts' events
	// arrive: as many as there are workers have started.
	d.waitLogCount(t, "export started", 4, time.Minute)
	for _, a := range accounts[bigs:] {
		publish(t, js, event.ModellingCompleted{AccountID: a, RunID: "r1", CompletedAt: now})
	}

	deadline := time.Now().Add(10 * time.Minute)
	for {
		mu.Lock()
		done := len(order)
		mu.Unlock()
		if done >= len(accounts) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d accounts finished within 10 minutes", done, len(accounts))
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(retried) > 0 {
		t.Errorf("exports failed and were retried: %v", retried)
	}
	firstBig := -1
	for i, o := range order {
		if o.Status != job.StatusCommitted {
			t.Fatalf("account %s: %s: %s", o.Account, o.Status, o.Error)
		}
		big := strings.HasPrefix(o.Account, "big")
		if big && firstBig < 0 {
			firstBig = i
		}
		if !big && firstBig >= 0 {
			t.Errorf("small account %s committed after the large account %s", o.Account, order[firstBig].Account)
		}
	}
	if got := strings.Count(d.out.String(), "continues in a large slot"); got != bigs {
		t.Errorf("%d exports moved to a large slot, want %d", got, bigs)
	}
}

// waitLogCount waits until the daemon's output holds s n times.
func (d *daemon) waitLogCount(t testing.TB, s string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for strings.Count(d.out.String(), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("exportd logged %q %d times within %v, want %d; output:\n%s", s, strings.Count(d.out.String(), s), timeout, n, d.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
