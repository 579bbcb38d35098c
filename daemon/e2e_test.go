package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/job"
	"github.com/exportd/exportd/internal/source/sample"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk/legacylayout"
	"github.com/nats-io/nats.go"
)

// sampleRows is the data set of the end-to-end tests: several files for
// the bigger tables (target size 64 KiB), and one empty table.
var sampleRows = map[string]int64{
	"companies": 400, "contacts": 3000, "events": 20000,
	"revenue": 150, "revenue_attribution": 600, "paid_ads": 0,
}

// hclRows renders row counts as an HCL object.
func hclRows(rows map[string]int64) string {
	parts := make([]string, 0, len(rows))
	for name, n := range rows {
		parts = append(parts, fmt.Sprintf("%s = %d", name, n))
	}
	sort.Strings(parts)
	return "{ " + strings.Join(parts, ", ") + " }"
}

func e2eConfig(dataDir, natsURL, pluginDir, out string) string {
	return fmt.Sprintf(`
data_dir   = %q
plugin_dir = %q
nats { url = %q }
http { listen = "" }
jobs { ack_wait = "10s" }
source "sample" {
  seed = 7
  rows = %s
}
parquet { target_file_size = "64KiB" }
destination "localfs" "acme-local" {
  account = "acme"
  path    = %q
  folder  = "exports/acme"
}
`, dataDir, pluginDir, natsURL, hclRows(sampleRows), out)
}

// TestEndToEnd runs the real exportd and localfs binaries: an event
// published on NATS becomes a dump whose layout, receipt and every value
// are checked, reading the parquet back with arrow-go.
func TestEndToEnd(t *testing.T) {
	ns := testsupport.StartNATS(t)
	nc, js := ns.Connect(t)
	out := t.TempDir()
	cfg := writeConfig(t, e2eConfig(t.TempDir(), ns.URL, testsupport.PluginDir(t, "localfs"), out))

	outcomes := make(chan *nats.Msg, 16)
	if _, err := nc.ChanSubscribe(job.OutcomeSubject("acme", "acme-local"), outcomes); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg)
	d.waitLog(t, "exportd running", 60*time.Second)

	completed := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	publish(t, js, event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: completed})
	receiptPath := filepath.Join(out, "exports", "acme", "receipt.json")
	waitFile(t, receiptPath, 2*time.Minute)

	// The outcome is published with the receipt.
	var o job.OutcomeMessage
	select {
	case m := <-outcomes:
		if err := json.Unmarshal(m.Data, &o); err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no outcome published")
	}
	if o.Status != job.StatusCommitted || !o.Final || o.RunID != "run-1" || o.Rows != 24150 {
		t.Fatalf("outcome %+v", o)
	}

	body, err := os.ReadFile(receiptPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(o.Receipt) != strings.TrimSpace(string(body)) && !json.Valid(o.Receipt) {
		t.Fatalf("published receipt differs")
	}
	checkDump(t, out, "exports/acme", "acme", sampleRows, body, true)
}

var timestampPattern = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

// checkDump checks the dump a receipt names against the sample source's
// rows for account: exact keys, contiguous indexes, the receipt naming
// every file, the receipt written after every data file, and every value
// read back with arrow-go. With strict, the root must hold nothing else;
// otherwise other minute folders (earlier dumps, files of crashed
// attempts) may sit beside it.
func checkDump(t *testing.T, root, folder, account string, rows map[string]int64, receipt []byte, strict bool) {
	t.Helper()
	rc, ts, err := legacylayout.ParseReceipt(receipt)
	if err != nil {
		t.Fatal(err)
	}
	if !timestampPattern.MatchString(rc.Timestamp) {
		t.Fatalf("receipt timestamp %q is not RFC 3339 UTC with microseconds", rc.Timestamp)
	}
	receiptInfo, err := os.Stat(filepath.Join(root, folder, "receipt.json"))
	if err != nil {
		t.Fatal(err)
	}
	minute := ts.UTC().Format("2006-01-02T15:04")

	// Every file on disk, relative to the root.
	var keys []string
	filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(root, p)
			keys = append(keys, filepath.ToSlash(rel))
		}
		return err
	})
	want := []string{folder + "/receipt.json"}
	snap, err := sample.NewSnapshot(sample.Config{Seed: 7, Rows: rows}, account, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.Tables) != 6 {
		t.Fatalf("receipt names %d tables, want 6", len(rc.Tables))
	}
	for _, tbl := range snap.Tables() {
		entry, ok := rc.Tables[tbl.Name]
		if !ok {
			t.Fatalf("receipt lacks table %s", tbl.Name)
		}
		if wantFolder := folder + "/" + minute + "/" + tbl.Name; entry.Folder != wantFolder {
			t.Fatalf("%s folder %q, want %q", tbl.Name, entry.Folder, wantFolder)
		}
		var got [][]any
		for i := 0; i < entry.TotalFileCount; i++ {
			key := fmt.Sprintf("%s/%s_%012d.parquet.gz", entry.Folder, tbl.Name, i)
			want = append(want, key)
			path := filepath.Join(root, filepath.FromSlash(key))
			info, err := os.Stat(path)
			if err != nil {
				t.Fatalf("file named by the receipt: %v", err)
			}
			if info.ModTime().After(receiptInfo.ModTime()) {
				t.Fatalf("%s was written after the receipt", key)
			}
			checkParquetMetadata(t, path, tbl.Name)
			got = append(got, testsupport.ReadParquet(t, path, tbl)...)
		}
		n, _ := snap.RowCount(tbl.Name)
		if int64(len(got)) != n {
			t.Fatalf("%s: %d rows read back, want %d", tbl.Name, len(got), n)
		}
		if n == 0 && entry.TotalFileCount != 1 {
			t.Fatalf("empty table %s has %d files, want one schema-only file", tbl.Name, entry.TotalFileCount)
		}
		// Rows of one table may be spread over its files in any order
		// (parallel encoding lanes), so they compare by id, the first
		// column, unique in every table.
		byID := make(map[string][]any, len(got))
		for _, row := range got {
			byID[row[0].(string)] = row
		}
		if len(byID) != len(got) {
			t.Fatalf("%s: %d rows but %d distinct ids", tbl.Name, len(got), len(byID))
		}
		var i int64
		for row, err := range snap.Rows(tbl.Name) {
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(byID[row[0].(string)], row) {
				t.Fatalf("%s row %d:\n got %#v\nwant %#v", tbl.Name, i, byID[row[0].(string)], row)
			}
			i++
		}
	}
	if !strict {
		prefix := folder + "/" + minute + "/"
		var inDump []string
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) || k == folder+"/receipt.json" {
				inDump = append(inDump, k)
			}
		}
		keys = inDump
	}
	sort.Strings(keys)
	sort.Strings(want)
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("files on disk:\n%s\nwant:\n%s", strings.Join(keys, "\n"), strings.Join(want, "\n"))
	}
}

// checkParquetMetadata checks, with arrow-go's low-level reader, that
// every column chunk is GZIP-compressed and the logical types are right.
func checkParquetMetadata(t *testing.T, path, table string) {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatalf("arrow-go cannot open %s: %v", path, err)
	}
	defer r.Close()
	md := r.MetaData()
	for g := 0; g < md.NumRowGroups(); g++ {
		rg := md.RowGroup(g)
		for c := 0; c < rg.NumColumns(); c++ {
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			if cc.Compression() != compress.Codecs.Gzip {
				t.Fatalf("%s: column chunk %d uses %v, want GZIP", path, c, cc.Compression())
			}
		}
	}
	s := md.Schema
	for i := 0; i < s.NumColumns(); i++ {
		col := s.Column(i)
		want := schema.LogicalType(nil)
		switch {
		case strings.HasSuffix(col.Path(), "_at") || col.Path() == "event_time":
			want = schema.NewTimestampLogicalType(true, schema.TimeUnitMicros)
		case strings.HasSuffix(col.Path(), "_date") || col.Path() == "date":
			want = schema.DateLogicalType{}
		case col.Path() == "properties":
			want = schema.JSONLogicalType{}
		case strings.HasSuffix(col.Path(), "_id"):
			want = schema.StringLogicalType{}
		}
		if want != nil && !col.LogicalType().Equals(want) {
			t.Fatalf("%s.%s: logical type %v, want %v", table, col.Path(), col.LogicalType(), want)
		}
		if col.MaxRepetitionLevel() > 0 {
			// A 3-level list: <name>.list.element.
			if parts := strings.Split(col.Path(), "."); len(parts) != 3 || parts[1] != "list" || parts[2] != "element" {
				t.Fatalf("%s.%s: repeated column is not a standard 3-level LIST", table, col.Path())
			}
		}
	}
}
