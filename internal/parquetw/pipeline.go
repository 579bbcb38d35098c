package parquetw

import (
	"context"
	"fmt"
	"sync"
)

// pipeline runs a table's lanes on goroutines of their own. The row
// builder, on the caller's goroutine, hands each full batch over work to
// whichever lane is free and goes on with an empty batch from free. Only
// one batch per lane exists besides the builder's own, so at most lanes+1
// batches are in flight, and lanes held up by a slow delivery soon hold up
// the builder: nothing buffers without bound.
//
// Lock order: sink.mu, then failure.mu.
type pipeline struct {
	table string
	lanes []*lane
	work  chan *batch // unbuffered: a hand-over waits for a free lane
	free  chan *batch // capacity len(lanes): putting back never waits
	made  int         // batches allocated for the pool; builder only

	fail failure
	// ctx is the writer's context, cancelled at the first error, so that a
	// delivery held up in one lane stops when another lane fails.
	ctx context.Context
	// closeCtx is Close's; it is set before work is closed, and the lanes
	// finish their last files with it.
	closeCtx   context.Context
	workClosed bool // builder only
	wg         sync.WaitGroup
}

// startPipeline creates the lanes the options ask for besides the first and
// starts one goroutine per lane. The first lane goes on with the file and
// row group it has.
func (w *TableWriter) startPipeline() error {
	for len(w.lanes) < w.opts.Lanes {
		l, err := takeLane(&w.schema, &w.opts, w.sink, w.laneKey)
		if err != nil {
			return err
		}
		w.lanes = append(w.lanes, l)
	}
	p := &pipeline{
		table: w.table,
		lanes: w.lanes,
		work:  make(chan *batch),
		free:  make(chan *batch, len(w.lanes)),
		fail:  failure{done: make(chan struct{})},
	}
	var cancel context.CancelCauseFunc
	p.ctx, cancel = context.WithCancelCause(w.ctx)
	p.fail.watch(cancel)
	w.sink.failure = &p.fail
	w.par = p
	// Lanes end their row groups before a batch would overfill them; the
	// builder only keeps batches within one row group's rows.
	w.batchLimit = int(min(int64(w.opts.batchRows), w.opts.RowGroupRows))
	for _, l := range p.lanes {
		p.wg.Add(1)
		go p.run(l)
	}
	return nil
}

// handOver gives the builder's full batch to a lane and an empty one to the
// builder. It waits while every lane is busy.
func (p *pipeline) handOver(ctx context.Context, w *TableWriter) error {
	if err := p.fail.get(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return p.fail.set(encodeCancelled(p.table, err))
	}
	var spare *batch
	select {
	case spare = <-p.free:
	default:
		if p.made < len(p.lanes) {
			spare = &batch{values: w.newValues()}
			p.made++
			break
		}
		select {
		case spare = <-p.free:
		case <-p.fail.done:
			return p.fail.get()
		case <-ctx.Done():
			return p.fail.set(encodeCancelled(p.table, ctx.Err()))
		}
	}
	w.cur, *spare = *spare, w.cur
	spare.ctx = ctx
	select {
	case p.work <- spare:
		return nil
	case <-p.fail.done:
		return p.fail.get()
	case <-ctx.Done():
		return p.fail.set(encodeCancelled(p.table, ctx.Err()))
	}
}

// run is a lane's goroutine. It encodes batches until work is closed, then
// finishes its file; at the first error, its own or not, it stops and
// removes the file it was writing.
func (p *pipeline) run(l *lane) {
	defer p.wg.Done()
	defer l.discard()
	for {
		select {
		case b, ok := <-p.work:
			if !ok {
				p.finishLane(l)
				return
			}
			if err := p.encode(l, b); err != nil {
				p.fail.set(err)
				return
			}
		case <-p.fail.done:
			return
		}
	}
}

// encode writes a batch, puts it back in the pool, then lets the lane
// finish its file or row group, which may deliver.
func (p *pipeline) encode(l *lane, b *batch) error {
	ctx := b.ctx
	err := p.fail.get()
	if err == nil && ctx.Err() != nil {
		err = encodeCancelled(p.table, ctx.Err())
	}
	if err == nil {
		err = l.write(b)
	}
	b.reset()
	p.free <- b
	if err != nil {
		return err
	}
	return l.settle(ctx)
}

// finishLane finishes and delivers the lane's last file at Close.
func (p *pipeline) finishLane(l *lane) {
	if l.out == nil || p.fail.get() != nil {
		return
	}
	ctx := p.closeCtx
	if err := ctx.Err(); err != nil {
		p.fail.set(encodeCancelled(p.table, err))
		return
	}
	if err := l.finish(ctx); err != nil {
		p.fail.set(err)
	}
}

// close hands over the last batch, lets every lane finish its file and
// waits for them. ctx is Close's.
func (p *pipeline) close(ctx context.Context, w *TableWriter) error {
	ctx, cancel := context.WithCancelCause(ctx)
	p.fail.watch(cancel)
	if w.cur.rows > 0 {
		if err := p.handOver(ctx, w); err != nil {
			return err
		}
	}
	p.closeCtx = ctx
	close(p.work)
	p.workClosed = true
	p.wg.Wait()
	return p.fail.get()
}

// stop ends the lanes, which remove their unfinished files, and waits for
// them. It may be called more than once, and after close.
func (p *pipeline) stop() {
	// Stopping is final too; after a successful close this only releases
	// the contexts.
	p.fail.set(ErrClosed)
	if !p.workClosed {
		close(p.work)
		p.workClosed = true
	}
	p.wg.Wait()
}

func encodeCancelled(table string, err error) error {
	return fmt.Errorf("encode table %s: %w", table, err)
}

// failure keeps the first error of a table's lanes and row builder. It is
// final for the writer: done is closed, and the contexts handed to lanes
// are cancelled with the error as their cause.
type failure struct {
	mu      sync.Mutex
	err     error
	done    chan struct{}
	cancels []context.CancelCauseFunc
}

func (f *failure) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// set records err unless an error is recorded already, and returns the
// first error.
func (f *failure) set(err error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
		close(f.done)
		for _, cancel := range f.cancels {
			cancel(err)
		}
		f.cancels = nil
	}
	return f.err
}

// watch calls cancel at the first error, or now if there is one.
func (f *failure) watch(cancel context.CancelCauseFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		cancel(f.err)
		return
	}
	f.cancels = append(f.cancels, cancel)
}
