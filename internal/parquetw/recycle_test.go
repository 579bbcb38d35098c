package parquetw

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
)

// TestRecycledFileIsWrittenAgain: a delivered small first file given back
// with Recycle is the file (the same inode) that the next writer of the
// table in the directory writes, with the bytes a new file would have; a
// large file or a later one is removed.
func TestRecycledFileIsWrittenAgain(t *testing.T) {
	dir := t.TempDir()
	write := func(rows [][]any, opts Options) []File {
		t.Helper()
		var c collector
		w, err := NewTableWriter(context.Background(), dir, allKinds, opts, c.deliver)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort()
		for i, row := range rows {
			if err := writeRow(w, row); err != nil {
				t.Fatalf("row %d: %v", i, err)
			}
		}
		if _, err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		return c.files
	}
	rows := randomRows(50, 3)
	opts := Options{Lanes: 1}
	first := write(cloneRows(rows), opts)
	if len(first) != 1 {
		t.Fatalf("%d files, want 1", len(first))
	}
	kept, err := Recycle(first[0])
	if err != nil || !kept {
		t.Fatalf("a small first file was not kept: %v", err)
	}
	recycled, err := os.Stat(first[0].Path + recycledSuffix)
	if err != nil {
		t.Fatal(err)
	}
	// Fewer rows: the file must shrink to its new size.
	again := write(cloneRows(rows[:10]), opts)
	info, err := os.Stat(again[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(recycled, info) {
		t.Fatal("the next writer created a new file instead of writing the recycled one")
	}
	fresh, _ := writeTable(t, allKinds, opts, cloneRows(rows[:10]))
	if !bytes.Equal(again[0].SHA256, fresh[0].SHA256) || info.Size() != fresh[0].Size {
		t.Fatal("the recycled file's bytes differ from a new file's")
	}
	// Not kept: a file after the first, or a large one.
	second := again[0]
	second.Index = 1
	if kept, err := Recycle(second); kept || err != nil {
		t.Fatalf("a second file was kept (%v)", err)
	}
	if _, err := os.Stat(second.Path); !os.IsNotExist(err) {
		t.Fatalf("the file was not removed: %v", err)
	}
	big := write(cloneRows(rows), opts)[0]
	big.Size = recycleMaxSize + 1
	if kept, err := Recycle(big); kept || err != nil {
		t.Fatalf("a large file was kept (%v)", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the directory holds %d entries", len(entries))
	}
}

// TestRecyclingWithLanes: with several lanes, files are finished out of
// the order they were opened in, so the first delivered file may be given
// back while the lane that opened the table's first file still writes it.
// A file recycled as each is delivered, as the job runner does, must never
// be one that a lane is writing: every delivered file holds, when it is
// delivered, the bytes its digest names.
func TestRecyclingWithLanes(t *testing.T) {
	rows := randomRows(3000, 11)
	opts := Options{Compression: Zstd, RowGroupRows: 300, TargetFileSize: 64 << 10, batchRows: 64, Lanes: 4, soloBatches: -1}
	dir := t.TempDir()
	for run := range 5 {
		var mu sync.Mutex
		var files []File
		deliver := func(_ context.Context, f File) error {
			checkFileOnDisk(t, f)
			mu.Lock()
			files = append(files, f)
			mu.Unlock()
			if _, err := Recycle(f); err != nil {
				t.Error(err)
			}
			return nil
		}
		w, err := NewTableWriter(context.Background(), dir, allKinds, opts, deliver)
		if err != nil {
			t.Fatal(err)
		}
		for i, row := range cloneRows(rows) {
			if err := writeRow(w, row); err != nil {
				t.Fatalf("run %d row %d: %v", run, i, err)
			}
		}
		sum, err := w.Close(context.Background())
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if sum.Files < 4 || len(files) != sum.Files {
			t.Fatalf("run %d: %d files delivered, %d summed; want several", run, len(files), sum.Files)
		}
	}
}
