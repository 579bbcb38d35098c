package sdk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"runtime"
	"testing"
)

func TestCopyVerified(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"one byte", 1},
		{"small", 3000},
		{"just under the pooled size", pooledCopyBuffer - 1},
		{"pooled size", pooledCopyBuffer},
		{"larger than a buffer", copyBufferSize*2 + 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := bytes.Repeat([]byte("parquet!"), tc.size/8+1)[:tc.size]
			sum := sha256.Sum256(data)
			f := File{Table: "events", Size: int64(tc.size), SHA256: sum[:]}
			var out bytes.Buffer
			if err := CopyVerified(context.Background(), &out, bytes.NewReader(data), f); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), data) {
				t.Fatalf("copied %d bytes that differ from the %d of the file", out.Len(), len(data))
			}
			bad := f
			bad.SHA256 = make([]byte, 32)
			if err := CopyVerified(context.Background(), &out, bytes.NewReader(data), bad); KindOf(err) != KindRetryable {
				t.Fatalf("a wrong digest gave %v, want a retryable error", err)
			}
			short := f
			short.Size++
			if err := CopyVerified(context.Background(), &out, bytes.NewReader(data), short); KindOf(err) != KindRetryable {
				t.Fatalf("a wrong size gave %v, want a retryable error", err)
			}
		})
	}
}

// TestCopyVerifiedSmallFileIsCheap checks that verifying a small file
// allocates about its size, not a megabyte: a small export's plugin spent
// most of its time allocating and clearing buffers.
func TestCopyVerifiedSmallFileIsCheap(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 2000)
	sum := sha256.Sum256(data)
	f := File{Table: "companies", Size: int64(len(data)), SHA256: sum[:]}
	var out bytes.Buffer
	out.Grow(len(data))
	const runs = 50
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		out.Reset()
		if err := CopyVerified(context.Background(), &out, bytes.NewReader(data), f); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 64<<10 {
		t.Fatalf("verifying a %d-byte file allocated %d bytes", len(data), per)
	}
}
