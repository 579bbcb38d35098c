package destinationtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/host"
)

type suite struct {
	h      Harness
	client *host.Client
	seq    atomic.Int64
}

type testCase struct {
	name string
	run  func(t *testing.T, s *suite)
}

var cases = []testCase{
	{"Schema", testSchema},
	{"UnknownAttributeRefused", testUnknownAttribute},
	{"ConstraintsEnforced", testConstraints},
	{"InvalidConfigsRefused", testInvalidConfigs},
	{"Check", testCheck},
	{"BrokenSetupsRefusedByCheck", testBrokenSetups},
	{"FullExport", testFullExport},
	{"LaterDumpReplacesReceipt", testLaterDump},
	{"OlderCommitAfterNewerRefused", testOlderCommitAfterNewer},
	{"AbortPublishesNothing", testAbort},
	{"IncompleteCommitRefused", testIncompleteCommit},
	{"ChecksumMismatchRefused", testChecksumMismatch},
	{"SameMinuteRefused", testSameMinute},
	{"CancelledPut", testCancelledPut},
	{"RecommitAfterCommit", testRecommitAfterCommit},
	{"RecommitBeforeCommit", testRecommitBeforeCommit},
	{"RecommitNeverGoesBack", testRecommitNeverGoesBack},
	{"CarriedTables", testCarriedTables},
	{"StoreFailingDuringPuts", testStoreFailingDuringPuts},
	{"StoreFailingAtCommit", testStoreFailingAtCommit},
}

// start launches the binary, or serves the plugin in-process.
func (s *suite) start(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var c *host.Client
	var err error
	if s.h.Plugin != nil {
		c, err = host.Start(ctx, s.h.Plugin, TestLogger(t))
	} else {
		c, err = host.Launch(ctx, host.LaunchConfig{Path: s.h.Binary, Env: s.h.Env, Logger: TestLogger(t)})
	}
	if err != nil {
		t.Fatalf("start plugin: %v", err)
	}
	t.Cleanup(c.Kill)
	s.client = c
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// configure configures cfg under a unique name.
func (s *suite) configure(t *testing.T, cfg map[string]any) (sdk.Destination, error) {
	name := fmt.Sprintf("conformance-%d", s.seq.Add(1))
	return s.client.Configure(ctxFor(t), sdk.DestinationInfo{Name: name, Account: "conformance"}, sdk.NewConfig(cfg))
}

// destination configures a fresh destination.
func (s *suite) destination(t *testing.T) (sdk.Destination, Inspector) {
	t.Helper()
	cfg, in := s.h.New(t)
	d, err := s.configure(t, cfg)
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return d, in
}

// newDump is NewDump into a temporary directory, failing the test on error.
func newDump(t *testing.T, at time.Time, counts map[string]int) Dump {
	t.Helper()
	d, err := NewDump(t.TempDir(), at, counts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// exportTime is a fresh export time, well apart from other subtests'.
func exportTime() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}

func requireKind(t *testing.T, err error, want sdk.ErrorKind, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want a %v error", what, want)
	}
	if got := sdk.KindOf(err); got != want {
		t.Fatalf("%s: error kind %v, want %v (error: %v)", what, got, want, err)
	}
}

func requireNoReceipt(t *testing.T, in Inspector, what string) {
	t.Helper()
	rc, err := in.Receipt(ctxFor(t))
	if err != nil {
		t.Fatalf("%s: read receipt: %v", what, err)
	}
	if rc != nil {
		t.Fatalf("%s: a receipt is visible:\n%s", what, rc)
	}
}

func requireReceipt(t *testing.T, in Inspector, want []byte, what string) {
	t.Helper()
	got, err := in.Receipt(ctxFor(t))
	if err != nil {
		t.Fatalf("%s: read receipt: %v", what, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: the visible receipt is\n%s\nwant\n%s", what, got, want)
	}
}

func requireDelivered(t *testing.T, in Inspector, d Dump) {
	t.Helper()
	ctx := ctxFor(t)
	for _, f := range d.Files() {
		got, err := in.File(ctx, d.Info, f.Table, f.Index)
		if err != nil {
			t.Fatalf("read back %s #%d: %v", f.Table, f.Index, err)
		}
		if !bytes.Equal(got, f.Data) {
			t.Fatalf("%s #%d: delivered %d bytes differ from the %d put", f.Table, f.Index, len(got), len(f.Data))
		}
	}
}

func requireSpoolUntouched(t *testing.T, d Dump) {
	t.Helper()
	for _, f := range d.Files() {
		got, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatalf("spool file %s: %v (a plugin must not remove spool files)", f.Path, err)
		}
		if !bytes.Equal(got, f.Data) {
			t.Fatalf("spool file %s was modified", f.Path)
		}
	}
}

func requireAbsent(t *testing.T, in Inspector, info sdk.ExportInfo, table string, index int) {
	t.Helper()
	_, err := in.File(ctxFor(t), info, table, index)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s #%d: want fs.ErrNotExist, got %v", table, index, err)
	}
}

// commit exports d to dest, failing the test on any error.
func commit(t *testing.T, dest sdk.Destination, d Dump) sdk.Receipt {
	t.Helper()
	rc, err := d.Export(ctxFor(t), dest)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}
