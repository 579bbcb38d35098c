package parquetw

import (
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/exportd/exportd/internal/schema"
)

// heapInUse is the heap in use after garbage collection.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// TestBigValueReleasedAfterItsFile: parquet-go's column buffers and page
// bounds keep the size of the largest value they held for as long as the
// writer lives; a lane renews its writer after the file that held a big
// value, so that one value does not pin several times its size for the
// rest of the table.
func TestBigValueReleasedAfterItsFile(t *testing.T) {
	tbl := schema.Table{Name: "blobs", Columns: []schema.Column{
		{Name: "id", Kind: schema.Int32},
		{Name: "note", Kind: schema.String, Nullable: true},
		{Name: "payload", Kind: schema.Bytes, Nullable: true},
	}}
	const size = 24 << 20
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{name: "one lane", opts: Options{Lanes: 1, TargetFileSize: 1 << 20}},
		{name: "two lanes", opts: Options{Lanes: 2, TargetFileSize: 1 << 20, batchRows: 256, soloBatches: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			var files, bigFile atomic.Int64
			w, err := NewTableWriter(ctx, t.TempDir(), tbl, tc.opts, func(_ context.Context, f File) error {
				files.Add(1)
				if f.Size > size {
					bigFile.Store(1)
				}
				return os.Remove(f.Path)
			})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			before := heapInUse()
			// Incompressible, so that its file reaches the target size at
			// once and ends.
			big := make([]byte, size)
			rand.NewChaCha8([32]byte{1}).Read(big)
			// Rows go on until well after the big value's file was
			// delivered (by a lane's goroutine, with two lanes).
			for i := 0; i < 60000 || bigFile.Load() == 0; i++ {
				if i > 5_000_000 {
					t.Fatal("the big value's file was never delivered")
				}
				w.Int32(int32(i))
				w.String("some note of a row")
				switch {
				case i == 100:
					w.Bytes(big)
				case i%3 == 0:
					w.Bytes([]byte("small payload"))
				default:
					w.Null()
				}
				if err := w.EndRow(); err != nil {
					t.Fatal(err)
				}
				if i == 100 {
					big = nil
				}
			}
			after := heapInUse()
			t.Logf("%d files so far; heap in use %d MiB before, %d MiB after a %d MiB value", files.Load(), before>>20, after>>20, size>>20)
			if grown := after - before; grown > size/2 {
				t.Fatalf("the writer still holds %d MiB after a %d MiB value went by in an earlier file", grown>>20, size>>20)
			}
			if _, err := w.Close(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
