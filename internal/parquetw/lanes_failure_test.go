package parquetw

// Tests of how a writer with several lanes fails, is cancelled, aborted or
// held up: the first error is final for every lane, nothing is left behind
// but files handed to deliver, and no goroutine outlives the writer.

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// TestLanesDeliverError checks that a failed delivery in one lane stops
// every lane: EndRow and Close return it, files handed to deliver stay,
// every other file goes.
func TestLanesDeliverError(t *testing.T) {
	for _, lanes := range []int{2, 3} {
		t.Run("lanes="+strconv.Itoa(lanes), func(t *testing.T) {
			checkGoroutines(t)
			dir := t.TempDir()
			boom := errors.New("destination down")
			var c collector
			var handed atomic.Int32
			deliver := func(ctx context.Context, f File) error {
				handed.Add(1)
				if f.Index == 2 {
					return boom
				}
				return c.deliver(ctx, f)
			}
			w, err := NewTableWriter(context.Background(), dir, int64Table, Options{TargetFileSize: 1, batchRows: 10, Lanes: lanes, soloBatches: -1}, deliver)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			var endErr error
			n := 0
			for ; n < 10_000 && endErr == nil; n++ {
				w.Int64(int64(n))
				endErr = w.EndRow()
			}
			if !errors.Is(endErr, boom) {
				t.Fatalf("EndRow returned %v after %d rows, want the delivery error", endErr, n)
			}
			if err := w.EndRow(); !errors.Is(err, boom) {
				t.Errorf("EndRow after failure: %v", err)
			}
			if _, err := w.Close(context.Background()); !errors.Is(err, boom) {
				t.Errorf("Close returned %v, want the delivery error", err)
			}
			if got := handed.Load(); got != 3 {
				t.Errorf("%d files handed to deliver, want 3 (none after the failure)", got)
			}
			delivered := c.delivered()
			if len(delivered) != 2 {
				t.Fatalf("%d files delivered, want 2", len(delivered))
			}
			checkOnlyFiles(t, dir, append(delivered, File{Path: filepath.Join(dir, fileName(int64Table.Name, 2))}))
		})
	}
}

// TestLanesContextCancelled checks that cancelling the writer's context
// stops every lane and cleans up.
func TestLanesContextCancelled(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var c collector
	w, err := NewTableWriter(ctx, dir, int64Table, Options{batchRows: 10, Lanes: 2, soloBatches: -1}, c.deliver)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for i := range 5000 {
		w.Int64(int64(i))
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	if w.par == nil {
		t.Fatal("lanes not started")
	}
	cancel()
	var endErr error
	for i := 0; i < 1000 && endErr == nil; i++ {
		w.Int64(int64(i))
		endErr = w.EndRow()
	}
	if !errors.Is(endErr, context.Canceled) {
		t.Fatalf("EndRow after cancel: %v", endErr)
	}
	if _, err := w.Close(context.Background()); !errors.Is(err, context.Canceled) {
		t.Errorf("Close: %v", err)
	}
	if got := dirEntries(t, dir); len(got) != 0 {
		t.Errorf("directory holds %v after a cancelled encode", got)
	}
	if files := c.delivered(); len(files) != 0 {
		t.Errorf("%d files delivered", len(files))
	}
}

// blockingDeliver returns a DeliverFunc that signals started on its first
// call and then waits for its context, as a receiver waiting for room does.
func blockingDeliver(started chan<- struct{}) DeliverFunc {
	var once atomic.Bool
	return func(ctx context.Context, f File) error {
		if once.CompareAndSwap(false, true) {
			close(started)
		}
		<-ctx.Done()
		return context.Cause(ctx)
	}
}

// TestLanesCancelWhileDelivering checks that cancelling the context ends a
// delivery that waits, and the writer with it, while the row builder waits
// for a lane.
func TestLanesCancelWhileDelivering(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	w, err := NewTableWriter(ctx, dir, int64Table, Options{TargetFileSize: 1, batchRows: 10, Lanes: 2, soloBatches: -1}, blockingDeliver(started))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	go func() {
		<-started
		time.Sleep(20 * time.Millisecond) // let the builder run into the full lanes
		cancel()
	}()
	var endErr error
	for i := 0; i < 10_000 && endErr == nil; i++ {
		w.Int64(int64(i))
		endErr = w.EndRow()
	}
	if !errors.Is(endErr, context.Canceled) {
		t.Fatalf("EndRow: %v, want the cancellation", endErr)
	}
	if _, err := w.Close(context.Background()); !errors.Is(err, context.Canceled) {
		t.Errorf("Close: %v", err)
	}
	// The file handed to deliver is the receiver's; nothing else is left.
	if got := dirEntries(t, dir); len(got) != 1 || got[0] != fileName(int64Table.Name, 0) {
		t.Errorf("directory holds %v, want only the file handed to deliver", got)
	}
}

// TestLanesMisuseWhileDelivering checks that a misuse on the builder's side
// ends the writer while a lane's delivery waits: Close returns the misuse
// promptly, because stopping cancels the delivery's context.
func TestLanesMisuseWhileDelivering(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	started := make(chan struct{})
	w, err := NewTableWriter(context.Background(), dir, int64Table, Options{TargetFileSize: 1, batchRows: 10, Lanes: 2, soloBatches: -1}, blockingDeliver(started))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for i := range 10 { // one batch: handed to an idle lane, which delivers
		w.Int64(int64(i))
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	<-started
	w.String("not a number")
	if err := w.EndRow(); !errors.Is(err, ErrMisuse) {
		t.Fatalf("EndRow: %v, want a misuse", err)
	}
	done := make(chan error)
	go func() {
		_, err := w.Close(context.Background())
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrMisuse) {
			t.Errorf("Close: %v, want the misuse", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close waits for a delivery that waits for its context")
	}
	if got := dirEntries(t, dir); len(got) != 1 || got[0] != fileName(int64Table.Name, 0) {
		t.Errorf("directory holds %v, want only the file handed to deliver", got)
	}
}

// TestLanesBackpressure checks that a delivery that does not return holds
// up the lanes and then the row builder, with at most one batch per lane and
// the builder's own accepted meanwhile; and that all goes on once it
// returns.
func TestLanesBackpressure(t *testing.T) {
	const batchRows, rows = 10, 1000
	for _, lanes := range []int{2, 3} {
		t.Run("lanes="+strconv.Itoa(lanes), func(t *testing.T) {
			checkGoroutines(t)
			release := make(chan struct{})
			var c collector
			deliver := func(ctx context.Context, f File) error {
				<-release
				return c.deliver(ctx, f)
			}
			// Every batch ends a file at a 1-byte target.
			w, err := NewTableWriter(context.Background(), t.TempDir(), int64Table, Options{TargetFileSize: 1, batchRows: batchRows, Lanes: lanes, soloBatches: -1}, deliver)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			var accepted atomic.Int64
			done := make(chan error)
			go func() {
				for i := range rows {
					w.Int64(int64(i))
					if err := w.EndRow(); err != nil {
						done <- err
						return
					}
					accepted.Add(1)
				}
				_, err := w.Close(context.Background())
				done <- err
			}()
			// Wait until the builder stops making progress.
			last := int64(-1)
			for n := accepted.Load(); n != last; n = accepted.Load() {
				last = n
				time.Sleep(100 * time.Millisecond)
			}
			if bound := int64((lanes + 1) * batchRows); last > bound || last < int64(lanes*batchRows) {
				t.Errorf("%d rows accepted while deliveries wait, want between %d and %d", last, lanes*batchRows, bound)
			}
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			files := c.delivered()
			var total int64
			for i, f := range files {
				if f.Index != i {
					t.Errorf("delivery %d has index %d", i, f.Index)
				}
				total += f.Rows
			}
			if len(files) != rows/batchRows || total != rows {
				t.Errorf("%d files holding %d rows, want %d files of %d rows", len(files), total, rows/batchRows, batchRows)
			}
		})
	}
}

// TestLanesMisuseMidway checks that a misuse after lanes started ends the
// writer: Close returns it and removes every unfinished file.
func TestLanesMisuseMidway(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	var c collector
	w, err := NewTableWriter(context.Background(), dir, int64Table, Options{TargetFileSize: 2 << 10, batchRows: 10, Lanes: 2, soloBatches: -1}, c.deliver)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for i := range 3000 {
		w.Int64(int64(i) * 7919)
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	w.Null()
	err = w.EndRow()
	var me *MisuseError
	if !errors.As(err, &me) || me.Row != 3000 {
		t.Fatalf("EndRow: %v, want a misuse at row 3000", err)
	}
	if _, cerr := w.Close(context.Background()); cerr != err {
		t.Errorf("Close: %v, want the misuse", cerr)
	}
	files := c.delivered()
	if len(files) == 0 {
		t.Error("no file delivered before the misuse")
	}
	checkOnlyFiles(t, dir, files)
}

// TestLanesAbort checks that Abort stops the lanes, removes their files
// being written, leaves delivered ones, and refuses rows afterwards.
func TestLanesAbort(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	var c collector
	w, err := NewTableWriter(context.Background(), dir, int64Table, Options{TargetFileSize: 2 << 10, batchRows: 100, Lanes: 2, soloBatches: -1}, c.deliver)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		w.Int64(int64(i) * 7919)
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	w.Abort()
	w.Abort() // idempotent
	files := c.delivered()
	if len(files) == 0 {
		t.Fatal("no file finished before Abort")
	}
	checkOnlyFiles(t, dir, files)
	w.Int64(1)
	if err := w.EndRow(); !errors.Is(err, ErrClosed) {
		t.Errorf("EndRow after Abort: %v, want ErrClosed", err)
	}
	if _, err := w.Close(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Close after Abort: %v, want ErrClosed", err)
	}
}
