package parquetw_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/parquetw"
	"github.com/exportd/exportd/internal/source"
	_ "github.com/exportd/exportd/internal/source/sample"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// BenchmarkSmallDump is the encoding side of one small account's export,
// as the job runner does it: open a sample snapshot of 132 rows over the
// six tables (scale 0.01), then for each table a TableWriter into its own
// spool directory, the rows, Close, and a delivery that removes the file.
// Its time and allocations per op are the fixed cost of encoding a dump,
// which dominates when accounts are small (see the fleet benchmark in
// daemon/).
func BenchmarkSmallDump(b *testing.B) {
	src := sampleSource(b)
	spool := b.TempDir()
	ctx := context.Background()
	remove := func(_ context.Context, f parquetw.File) error { return os.Remove(f.Path) }
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		account := fmt.Sprintf("acct%05d", i%1000)
		snap, err := src.Open(ctx, source.Request{Event: event.ModellingCompleted{
			AccountID: account, RunID: account + "-run", CompletedAt: time.Unix(1700000000, 0).UTC(),
		}})
		if err != nil {
			b.Fatal(err)
		}
		dir := filepath.Join(spool, fmt.Sprintf("job-%d", i))
		for _, t := range snap.Tables() {
			w, err := parquetw.NewTableWriter(ctx, filepath.Join(dir, t.Name), t, parquetw.Options{}, remove)
			if err != nil {
				b.Fatal(err)
			}
			if err := snap.ReadTable(ctx, t.Name, w); err != nil {
				b.Fatal(err)
			}
			if _, err := w.Close(ctx); err != nil {
				b.Fatal(err)
			}
		}
		snap.Close()
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
	}
}

// sampleSource is the sample source of the fleet benchmark.
func sampleSource(b *testing.B) source.Source {
	factory, ok := source.Lookup("sample")
	if !ok {
		b.Fatal("no sample source")
	}
	src, diags := factory(hclBody(b, "scale = 0.01"), source.Env{})
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	return src
}

func hclBody(b *testing.B, src string) hcl.Body {
	f, diags := hclsyntax.ParseConfig([]byte(src), "bench.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	return f.Body
}
