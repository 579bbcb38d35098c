package s3legacy

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/destinationtest"
	"github.com/exportd/exportd/sdk/host"
)

// These tests drive an export in process against a fake S3 that accepts
// everything: directly, for the plugin's own guarantees, or through the
// SDK's server and guard (guardedDestination), as the daemon does, for the
// protocol's, which the plugin leaves to the SDK.

type acceptingS3 struct {
	*fakeS3
	mu   sync.Mutex
	puts []string
}

func newAcceptingS3(t *testing.T, delay time.Duration) (*acceptingS3, *atomic.Int64) {
	a := &acceptingS3{}
	var inFlight, peak atomic.Int64
	a.fakeS3 = newFakeS3(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(delay)
		a.mu.Lock()
		a.puts = append(a.puts, r.URL.Path)
		a.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	return a, &peak
}

func (a *acceptingS3) paths() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.puts...)
}

func acceptingDestination(t *testing.T, srv *acceptingS3, extra map[string]any) *destination {
	cfg := map[string]any{"endpoint": srv.URL, "path_style": true, "region": "us-east-1"}
	for k, v := range extra {
		cfg[k] = v
	}
	return configure(t, testPlugin(t, staticCreds), baseConfig(cfg))
}

// guardedDestination is an accepting destination served in-process
// through the SDK, guard included.
func guardedDestination(t *testing.T, srv *acceptingS3) sdk.Destination {
	ctx := testContext(t)
	c, err := host.Start(ctx, testPlugin(t, staticCreds), destinationtest.TestLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Kill)
	cfg := baseConfig(map[string]any{"endpoint": srv.URL, "path_style": true, "region": "us-east-1"})
	d, err := c.Configure(ctx, sdk.DestinationInfo{Name: "acme", Account: "acme"}, sdk.NewConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestBeginRefusesTimesThatWouldShareOrRewind(t *testing.T) {
	srv, _ := newAcceptingS3(t, 0)
	d := guardedDestination(t, srv)
	at := time.Date(2024, 5, 6, 7, 8, 30, 0, time.UTC)
	for _, tc := range []struct {
		name string
		prev time.Time
		ok   bool
	}{
		{"first dump", time.Time{}, true},
		{"next minute", at.Add(-31 * time.Second), true},
		{"same minute", at.Add(-10 * time.Second), false},
		{"previous is later", at.Add(time.Hour), false},
	} {
		_, err := d.Begin(testContext(t), sdk.ExportInfo{ID: "e", Account: "acme", Time: at, PreviousTime: tc.prev, Tables: []string{"companies"}})
		if tc.ok != (err == nil) || (err != nil && sdk.KindOf(err) != sdk.KindPermanent) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := d.Begin(testContext(t), sdk.ExportInfo{Time: at}); sdk.KindOf(err) != sdk.KindPermanent {
		t.Errorf("no tables: %v", err)
	}
	for _, table := range []string{"", "a/b", "..", "x\ny"} {
		if _, err := d.Begin(testContext(t), sdk.ExportInfo{Time: at, Tables: []string{table}}); sdk.KindOf(err) != sdk.KindPermanent {
			t.Errorf("table %q: %v", table, err)
		}
	}
}

func TestReceiptNeverGoesBack(t *testing.T) {
	srv, _ := newAcceptingS3(t, 0)
	d := acceptingDestination(t, srv, nil)
	ctx := testContext(t)
	dir := t.TempDir()
	newer, older := time.Date(2024, 5, 6, 8, 0, 0, 0, time.UTC), time.Date(2024, 5, 6, 7, 0, 0, 0, time.UTC)
	run := func(at time.Time) error {
		exp, err := d.Begin(ctx, sdk.ExportInfo{ID: at.String(), Account: "acme", Time: at, Tables: []string{"companies"}})
		if err != nil {
			return err
		}
		if err := exp.Put(ctx, writeSpool(t, dir, "companies", 0, []byte(at.String())).File); err != nil {
			return err
		}
		_, err = exp.Commit(ctx, sdk.Manifest{Tables: []sdk.TableManifest{{Name: "companies", Files: 1}}})
		return err
	}
	if err := run(newer); err != nil {
		t.Fatal(err)
	}
	err := run(older)
	if sdk.KindOf(err) != sdk.KindPermanent || !strings.Contains(err.Error(), "later dump") {
		t.Fatalf("older dump's Commit: %v", err)
	}
	if n := strings.Count(strings.Join(srv.paths(), " "), "receipt.json"); n != 1 {
		t.Fatalf("%d receipts written, want only the newer dump's", n)
	}
}

func TestExportStates(t *testing.T) {
	srv, _ := newAcceptingS3(t, 0)
	d := guardedDestination(t, srv)
	ctx := testContext(t)
	dir := t.TempDir()
	exp, err := d.Begin(ctx, sdk.ExportInfo{ID: "e", Account: "acme", Time: exportTime(), Tables: []string{"companies", "events"}})
	if err != nil {
		t.Fatal(err)
	}
	good := writeSpool(t, dir, "companies", 0, []byte("c0"))
	if err := exp.Put(ctx, good.File); err != nil {
		t.Fatal(err)
	}

	bad := map[string]sdk.File{}
	f := writeSpool(t, dir, "events", 0, []byte("e0")).File
	f.SHA256 = good.SHA256
	bad["digest mismatch"] = f
	f = writeSpool(t, dir, "events", 1, []byte("e1")).File
	f.Size++
	bad["size mismatch"] = f
	f = writeSpool(t, dir, "events", 2, []byte("e2")).File
	f.Path += ".gone"
	bad["missing spool file"] = f
	before := len(srv.paths())
	for name, f := range bad {
		if err := exp.Put(ctx, f); sdk.KindOf(err) != sdk.KindRetryable || err == nil {
			t.Errorf("%s: %v, want a retryable error", name, err)
		}
	}
	f = good.File
	f.Table = "revenue"
	if err := exp.Put(ctx, f); sdk.KindOf(err) != sdk.KindPermanent {
		t.Errorf("file of a table outside the export: %v", err)
	}
	if len(srv.paths()) != before {
		t.Fatal("a refused file was uploaded")
	}

	// Commit refuses a manifest that names an undelivered file or omits a table.
	for name, m := range map[string]sdk.Manifest{
		"undelivered file": {Tables: []sdk.TableManifest{{Name: "companies", Files: 1}, {Name: "events", Files: 1}}},
		"omitted table":    {Tables: []sdk.TableManifest{{Name: "companies", Files: 1}}},
		"extra file":       {Tables: []sdk.TableManifest{{Name: "companies", Files: 2}, {Name: "events", Files: 1}}},
	} {
		if _, err := exp.Commit(ctx, m); sdk.KindOf(err) != sdk.KindPermanent {
			t.Errorf("Commit with %s: %v", name, err)
		}
	}
	if err := exp.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if err := exp.Abort(ctx); err != nil {
		t.Fatal("second Abort:", err)
	}
	if err := exp.Put(ctx, good.File); sdk.KindOf(err) != sdk.KindPermanent {
		t.Errorf("Put after Abort: %v", err)
	}
	if _, err := exp.Commit(ctx, sdk.Manifest{}); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	if strings.Contains(strings.Join(srv.paths(), " "), "receipt.json") {
		t.Fatal("a receipt was written")
	}
	if _, err := os.Stat(good.Path); err != nil {
		t.Fatalf("spool file touched: %v", err)
	}
}

func TestUploadConcurrencyIsBounded(t *testing.T) {
	srv, peak := newAcceptingS3(t, 50*time.Millisecond)
	d := acceptingDestination(t, srv, map[string]any{"upload_concurrency": 2})
	ctx := testContext(t)
	dir := t.TempDir()
	exp, err := d.Begin(ctx, sdk.ExportInfo{ID: "e", Account: "acme", Time: exportTime(), Tables: []string{"events"}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		f := writeSpool(t, dir, "events", i, []byte{byte(i)})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := exp.Put(ctx, f.File); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Fatalf("peak of %d uploads in flight, want 2", p)
	}

	// A Put waiting for a slot gives up with its context.
	d.slots <- struct{}{}
	d.slots <- struct{}{}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err = exp.Put(short, writeSpool(t, dir, "events", 8, []byte{8}).File)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put waiting for a slot: %v", err)
	}
}
