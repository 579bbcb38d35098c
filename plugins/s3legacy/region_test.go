package s3legacy

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk/destinationtest"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// lockedLog collects log lines from several goroutines and passes them on
// to the test's log.
type lockedLog struct {
	t   io.Writer // destinationtest.TestLogWriter
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(p)
	l.mu.Unlock()
	return l.t.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestRegionLearntByConcurrentUploads is a new customer's first dump with
// no region configured and the bucket in another region than the one the
// plugin starts with: four uploads are in flight at once when S3 tells
// each of them where the bucket is. Every one of them tries again there,
// the dump commits, and the switch is logged once.
func TestRegionLearntByConcurrentUploads(t *testing.T) {
	m := testsupport.SharedMoto(t)
	c := m.NewCustomer(t, testsupport.CustomerOptions{Region: "eu-west-1"})
	proxy := m.StartRegionProxy(t)
	proxy.HoldMisdirected(4)
	for _, kv := range m.PlatformEnv() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	logs := &lockedLog{t: destinationtest.TestLogWriter(t)}
	cfg := motoConfig(m, c, map[string]any{"endpoint": proxy.URL, "upload_concurrency": 4, "folder": "dumps"})
	delete(cfg, "region")
	d := configureLogged(t, testPlugin(t, nil), cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))

	ctx := testContext(t)
	dm := encodeDump(t, exportTime(), 1, 16<<10)
	if n := len(dm.files()); n < 8 {
		t.Fatalf("the dump has %d files; the test needs at least 8", n)
	}
	rc := exportDump(ctx, t, d, dm)

	if got := proxy.Misdirected(); got != 4 {
		t.Errorf("%d uploads were sent to the wrong region, want the 4 first in flight", got)
	}
	if got := strings.Count(logs.String(), "bucket is in another region"); got != 1 {
		t.Errorf("the region switch was logged %d times, want once:\n%s", got, logs)
	}
	if d.region() != "eu-west-1" {
		t.Errorf("destination region %s, want eu-west-1", d.region())
	}
	layout := legacylayout.Layout{Folder: "dumps"}
	stored, err := m.Object(ctx, c.Bucket, layout.ReceiptKey())
	if err != nil || !bytes.Equal(stored, rc.Body) {
		t.Fatalf("receipt in the bucket: %v\n%s\nwant\n%s", err, stored, rc.Body)
	}
	for _, f := range dm.files() {
		got, err := m.Object(ctx, c.Bucket, layout.FileKey(dm.info.Time, f.Table, f.Index))
		if err != nil || !bytes.Equal(got, f.data) {
			t.Fatalf("%s file %d in the bucket: %v", f.Table, f.Index, err)
		}
	}
}
