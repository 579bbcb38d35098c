package parquetw

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestTargetUnder(t *testing.T) {
	tests := []struct {
		name  string
		limit int64
		want  int64
	}{
		{"S3 PutObject", 5 << 30, 5<<30 - (64<<20 + 5<<30/32)},
		{"Azure Put Blob", 5000 << 20, 5000<<20 - (64<<20 + 5000<<20/32)},
		{"small: a quarter", 1 << 20, 3 << 18},
		{"one byte", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TargetUnder(tt.limit); got != tt.want {
				t.Fatalf("TargetUnder(%d) = %d, want %d", tt.limit, got, tt.want)
			}
		})
	}
	capped := Options{TargetFileSize: 6 << 30, MaxFileSize: 5 << 30}.withDefaults()
	if capped.TargetFileSize != TargetUnder(5<<30) {
		t.Fatalf("target %d under a 5 GiB limit", capped.TargetFileSize)
	}
	if small := (Options{TargetFileSize: 1 << 20, MaxFileSize: 5 << 30}).withDefaults(); small.TargetFileSize != 1<<20 {
		t.Fatalf("a target under the limit was changed to %d", small.TargetFileSize)
	}
}

// TestMaxFileSizeCapsEveryFile: with the default target of 128 MiB and a
// destination that takes 96 KiB at most, every file stays under 96 KiB,
// with one lane and with several.
func TestMaxFileSizeCapsEveryFile(t *testing.T) {
	const limit = 96 << 10
	for _, lanes := range []int{1, 2} {
		opts := Options{MaxFileSize: limit, PageBufferSize: minPageBufferSize, batchRows: 100, Lanes: lanes, soloBatches: -1}
		files, sum := writeTable(t, allKinds, opts, randomRows(6000, 11))
		if len(files) < 3 {
			t.Fatalf("%d lanes: %d files; a 96 KiB limit should have split the table", lanes, len(files))
		}
		for _, f := range files {
			if f.Size > limit {
				t.Errorf("%d lanes: file %d has %d bytes, over the %d-byte limit", lanes, f.Index, f.Size, limit)
			}
			checkFileOnDisk(t, f)
		}
		if sum.Rows != 6000 {
			t.Fatalf("%d rows written", sum.Rows)
		}
	}
}

// TestFileTooLargeNeverDelivered: a row whose values alone pass the limit
// fails the table with ErrFileTooLarge; no file over the limit is
// delivered.
func TestFileTooLargeNeverDelivered(t *testing.T) {
	const limit = 64 << 10
	rows := randomRows(50, 3)
	noise := make([]byte, 200<<10)
	_, _ = rand.Read(noise)
	rows[10][0] = base64.StdEncoding.EncodeToString(noise) // some 200 KiB even compressed
	var c collector
	w, err := NewTableWriter(context.Background(), t.TempDir(), allKinds,
		Options{MaxFileSize: limit, PageBufferSize: minPageBufferSize, batchRows: 10, Lanes: 1}, c.deliver)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, row := range rows {
		if err = writeRow(w, row); err != nil {
			break
		}
	}
	if err == nil {
		_, err = w.Close(context.Background())
	}
	if !errors.Is(err, ErrFileTooLarge) || !strings.Contains(err.Error(), "target_file_size") {
		t.Fatalf("writing a 200 KiB value under a 64 KiB limit: %v, want ErrFileTooLarge", err)
	}
	for _, f := range c.delivered() {
		if f.Size > limit {
			t.Fatalf("file %d of %d bytes was delivered", f.Index, f.Size)
		}
	}
}
