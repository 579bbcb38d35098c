// Package job runs exports and decides what happens to the events that
// ask for them.
//
// A Runner performs one export: it opens a snapshot of the account's
// tables, encodes each table once through the shared parquet writers into
// a spool directory, hands every finished file to every destination of the
// export as soon as it exists, and commits each destination once all of
// its files are delivered. One destination's failure does not fail the
// others. The spool is removed when the export ends, however it ends.
//
// The Engine (engine.go) turns modelling-complete events and re-export
// requests into runs, one export at a time (export.go): it admits each
// destination (admit.go: not done, not superseded, its lease taken),
// counts the attempt, waits for the destination's next free minute and
// takes the export time from the clock (clock.go), records each commit's
// intent and the commit itself around the destination's Commit
// (commit.go), recommits a dump whose commit a crash left in doubt
// (recommit.go), completes re-exports of some tables with the tables
// they carry over (carry.go), coalesces and rate-limits re-export
// requests (reexport.go, coalesce.go), and tells the trigger whether to
// acknowledge, retry or give up. It finds an account's destinations in a
// Catalog (catalog.go), whose snapshot keeps their configuration, however
// it changes meanwhile, until the export ends.
package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/parquetw"
	"github.com/exportd/exportd/internal/schema"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/sdk"
)

// Runner performs exports. Its fields are set once; Run may be called
// concurrently for different jobs.
type Runner struct {
	Source   source.Source
	SpoolDir string
	Parquet  parquetw.Options
	// TableParallelism bounds how many tables one export encodes at once.
	TableParallelism int
	// PutConcurrency bounds how many files one destination receives at once.
	PutConcurrency int
	// MaxSpooledFiles bounds, per table, the finished files waiting for
	// delivery; the encoder waits when it is reached, so the spool stays
	// bounded when destinations are slower than encoding.
	MaxSpooledFiles int
	Log             *slog.Logger
	// Observer, when set, is told about progress (metrics, a terminal).
	Observer Observer
	// ExporterVersion is the daemon's version, which each Begin tells the
	// destination.
	ExporterVersion string

	spools spoolDirs
}

// Job is one export of one run to some of an account's destinations.
type Job struct {
	// ID identifies this attempt.
	ID    string
	Event event.ModellingCompleted
	// Tables restricts the export to these tables; empty means all.
	Tables  []string
	Targets []Target
	// Grown, when set, is called once the export has encoded more than
	// GrowAfter rows (over all its tables); it may wait, and its error
	// fails the export. The engine moves such an export to a large lane.
	Grown     func(ctx context.Context) error
	GrowAfter int64
}

// Target is one destination of a job.
type Target struct {
	Name        string
	Destination sdk.Destination
	// Tables is the destination's own subset; empty means all.
	Tables []string
	// Time is the export time T, chosen by the caller so that no two
	// dumps of the destination share a minute.
	Time         time.Time
	PreviousTime time.Time
	// Carried completes a dump of some tables only: the destination's
	// other tables, whose files are those of earlier dumps. They are
	// named in the Commit manifest, never encoded nor delivered.
	Carried []sdk.TableManifest
	// MaxFileSize is the largest file the destination takes (its plugin's
	// max object size); 0 means no limit. Every file of the job stays
	// under the smallest limit of its targets.
	MaxFileSize int64
}

// Outcome is how a job ended for one destination.
type Outcome struct {
	Destination string
	Time        time.Time
	// Err is nil when the dump was committed.
	Err     error
	Receipt sdk.Receipt
	Tables  []parquetw.Summary
}

// Rows is the number of rows delivered to the destination.
func (o Outcome) Rows() int64 {
	var n int64
	for _, t := range o.Tables {
		n += t.Rows
	}
	return n
}

// Files is the number of files delivered to the destination.
func (o Outcome) Files() int {
	var n int
	for _, t := range o.Tables {
		n += t.Files
	}
	return n
}

// Bytes is the number of bytes delivered to the destination.
func (o Outcome) Bytes() int64 {
	var n int64
	for _, t := range o.Tables {
		n += t.Bytes
	}
	return n
}

// Observer is told about an export's progress. Its methods are called
// from many goroutines and must be quick.
type Observer interface {
	TableStarted(jobID, table string)
	RowsEncoded(jobID, table string, n int64)
	FileEncoded(jobID string, f parquetw.File)
	FileDelivered(jobID, destination string, f parquetw.File, took time.Duration)
	TableEncoded(jobID string, s parquetw.Summary)
}

// Run performs the job and returns one outcome per target, in order. It
// never commits a destination unless every file of every one of its
// tables was delivered to it.
func (r *Runner) Run(ctx context.Context, job Job) []Outcome {
	log := r.log().With("job", job.ID, "account", job.Event.AccountID, "run_id", job.Event.RunID)
	outcomes := make([]Outcome, len(job.Targets))
	for i, t := range job.Targets {
		outcomes[i] = Outcome{Destination: t.Name, Time: t.Time}
	}
	failAll := func(err error) []Outcome {
		for i := range outcomes {
			outcomes[i].Err = err
		}
		return outcomes
	}
	if len(job.Targets) == 0 {
		return outcomes
	}

	spool, err := r.spools.take(r.SpoolDir)
	if err != nil {
		return failAll(sdk.Retryable(err))
	}
	defer r.spools.give(spool, log)

	snap, err := r.Source.Open(ctx, source.Request{Event: job.Event, Tables: sourceTables(job)})
	if err != nil {
		return failAll(fmt.Errorf("open source snapshot: %w", err))
	}
	defer snap.Close()
	tables := snap.Tables()

	exp := &export{runner: r, job: job, log: log, tables: tables, parquet: r.parquetFor(job)}
	exp.begin(ctx)
	encodeErr := exp.encode(ctx, spool, tables, snap)
	exp.puts.Wait()
	exp.finish(ctx, encodeErr)
	for i, t := range exp.targets {
		outcomes[i].Err = t.err
		outcomes[i].Receipt = t.receipt
		outcomes[i].Tables = t.summaries(exp.summaries)
	}
	return outcomes
}

func (r *Runner) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

// sourceTables is what the snapshot must hold: the job's subset, or the
// union of the targets' subsets, or everything (nil).
func sourceTables(job Job) []string {
	if len(job.Tables) > 0 {
		return job.Tables
	}
	var union []string
	for _, t := range job.Targets {
		if len(t.Tables) == 0 {
			return nil
		}
		for _, name := range t.Tables {
			if !slices.Contains(union, name) {
				union = append(union, name)
			}
		}
	}
	return union
}

// export is the state of one Run.
type export struct {
	runner *Runner
	job    Job
	log    *slog.Logger
	tables []schema.Table

	// parquet are the writers' options for this job's targets.
	parquet parquetw.Options

	targets []*target
	puts    sync.WaitGroup

	mu        sync.Mutex
	summaries map[string]parquetw.Summary
	// encoded holds, by table, what manifests say of its encoding: its
	// columns and files (manifest.go).
	encoded map[string]*encodedTable

	rows    atomic.Int64 // encoded, counted in chunks while Grown is pending
	grow    sync.Once
	growErr error
}

// begin starts the export at every target. A target whose Begin fails is
// out of the export from then on.
func (e *export) begin(ctx context.Context) {
	for _, t := range e.job.Targets {
		tt := &target{Target: t, sem: make(chan struct{}, max(e.runner.PutConcurrency, 1))}
		tt.ctx, tt.cancel = context.WithCancel(ctx)
		for _, tab := range e.tables {
			if len(t.Tables) == 0 || slices.Contains(t.Tables, tab.Name) {
				tt.tables = append(tt.tables, tab.Name)
			}
		}
		e.targets = append(e.targets, tt)
		if len(tt.tables) == 0 {
			tt.fail(sdk.ConfigError("tables", fmt.Errorf("destination %s wants none of the tables the source has", t.Name)))
			continue
		}
		exp, err := t.Destination.Begin(ctx, sdk.ExportInfo{
			ID:              e.job.ID + "/" + t.Name,
			Account:         e.job.Event.AccountID,
			RunID:           e.job.Event.RunID,
			Time:            t.Time,
			Tables:          tt.tables,
			PreviousTime:    t.PreviousTime,
			ExporterVersion: e.runner.ExporterVersion,
		})
		if err != nil {
			tt.fail(fmt.Errorf("begin export: %w", err))
			continue
		}
		tt.exp = exp
	}
}

// live reports whether any target can still receive files.
func (e *export) live() bool {
	for _, t := range e.targets {
		if t.alive() {
			return true
		}
	}
	return false
}

// encode encodes every table, a few at a time, delivering files as they
// are finished. It stops early when no target is left to deliver to.
func (e *export) encode(ctx context.Context, spool string, tables []schema.Table, snap source.Snapshot) error {
	if !e.live() {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	e.summaries = make(map[string]parquetw.Summary, len(tables))

	parallel := max(e.runner.TableParallelism, 1)
	if p := snap.Parallelism(); p > 0 {
		parallel = min(parallel, p)
	}
	work := make(chan schema.Table)
	errs := make(chan error, len(tables))
	var wg sync.WaitGroup
	for range min(parallel, len(tables)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				if err := e.encodeTable(ctx, spool, t, snap); err != nil {
					errs <- err
					cancel(err)
				}
			}
		}()
	}
feed:
	for _, t := range tables {
		if !e.live() {
			cancel(errNoTargets)
		}
		select {
		case work <- t:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := ctx.Err(); err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, errNoTargets) {
			return nil // every target has failed on its own account
		}
	}
	return firstError(errs)
}

var errNoTargets = errors.New("no destination is left to deliver to")

func firstError(errs <-chan error) error {
	var first error
	for err := range errs {
		if first == nil || errors.Is(first, context.Canceled) || errors.Is(first, errNoTargets) {
			first = err
		}
	}
	return first
}

// encodeTable encodes one table into the spool, delivering each file.
func (e *export) encodeTable(ctx context.Context, spool string, t schema.Table, snap source.Snapshot) error {
	obs := e.runner.Observer
	if obs != nil {
		obs.TableStarted(e.job.ID, t.Name)
	}
	if err := e.recordColumns(t); err != nil {
		return sdk.Permanent(fmt.Errorf("table %s: %w", t.Name, err))
	}
	slots := make(chan struct{}, max(e.runner.MaxSpooledFiles, 1))
	deliver := func(ctx context.Context, f parquetw.File) error {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		e.recordFile(f)
		if obs != nil {
			obs.FileEncoded(e.job.ID, f)
		}
		crashAt(CrashWhileEncoding)
		e.fanOut(f, func() { <-slots })
		if !e.live() {
			return errNoTargets
		}
		return nil
	}
	// Every table's files go into the job's spool directory: their names
	// start with the table's, and a directory per table cost a mkdir and
	// a removal per table, a good part of a small export's fixed cost.
	w, err := parquetw.NewTableWriter(ctx, spool, t, e.parquet, deliver)
	if err != nil {
		return sdk.Permanent(fmt.Errorf("table %s: %w", t.Name, err))
	}
	var rows source.RowWriter = w
	var counting *countingWriter
	if obs != nil {
		counting = &countingWriter{TableWriter: w, report: func(n int64) { obs.RowsEncoded(e.job.ID, t.Name, n) }}
		rows = counting
	}
	if e.job.Grown != nil {
		rows = &growingWriter{RowWriter: rows, ctx: ctx, e: e}
	}
	if err := snap.ReadTable(ctx, t.Name, rows); err != nil {
		w.Abort()
		return classifyEncodeError(t.Name, err)
	}
	if counting != nil {
		counting.flush()
	}
	sum, err := w.Close(ctx)
	if err != nil {
		w.Abort()
		return classifyEncodeError(t.Name, err)
	}
	e.mu.Lock()
	e.summaries[t.Name] = sum
	e.mu.Unlock()
	if obs != nil {
		obs.TableEncoded(e.job.ID, sum)
	}
	return nil
}

// classifyEncodeError names the table and makes a writer misuse, which is
// a bug that no retry fixes, permanent.
func classifyEncodeError(table string, err error) error {
	if errors.Is(err, parquetw.ErrMisuse) {
		return sdk.Permanent(fmt.Errorf("encode table %s: %w", table, err))
	}
	return fmt.Errorf("table %s: %w", table, err)
}

// fanOut puts a finished file to every live target that wants its table,
// then removes it from the spool (or keeps it for the next export's
// writer to reuse) and calls release.
func (e *export) fanOut(f parquetw.File, release func()) {
	var wg sync.WaitGroup
	for _, t := range e.targets {
		if !t.alive() || !slices.Contains(t.tables, f.Table) {
			continue
		}
		wg.Add(1)
		e.puts.Add(1)
		go func() {
			defer e.puts.Done()
			defer wg.Done()
			t.put(e, f)
		}()
	}
	e.puts.Add(1)
	go func() {
		defer e.puts.Done()
		wg.Wait()
		if _, err := parquetw.Recycle(f); err != nil {
			e.log.Warn("removing a delivered spool file failed", "path", f.Path, "error", err)
		}
		release()
	}()
}

// finish commits every target that received all its files and aborts the
// others.
func (e *export) finish(ctx context.Context, encodeErr error) {
	for _, t := range e.targets {
		if encodeErr != nil {
			t.fail(encodeErr)
		}
		if t.exp == nil {
			continue
		}
		if t.alive() {
			m := e.manifest(t)
			crashAt(CrashBeforeCommit)
			rc, err := t.exp.Commit(ctx, m)
			if err == nil {
				t.receipt = rc
				continue
			}
			t.fail(fmt.Errorf("commit: %w", err))
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		if err := t.exp.Abort(actx); err != nil {
			e.log.Warn("abort failed", "destination", t.Name, "error", err)
		}
		cancel()
	}
}

// target is one destination's share of an export.
type target struct {
	Target
	tables []string
	exp    sdk.Export
	sem    chan struct{}
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	err     error
	receipt sdk.Receipt
}

func (t *target) alive() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err == nil
}

// fail records the target's first error and stops its deliveries.
func (t *target) fail(err error) {
	t.mu.Lock()
	if t.err == nil {
		t.err = err
	}
	t.mu.Unlock()
	if t.cancel != nil {
		t.cancel()
	}
}

func (t *target) put(e *export, f parquetw.File) {
	select {
	case t.sem <- struct{}{}:
	case <-t.ctx.Done():
		return
	}
	defer func() { <-t.sem }()
	if !t.alive() {
		return
	}
	start := time.Now()
	err := t.exp.Put(t.ctx, sdk.File{Table: f.Table, Index: f.Index, Path: f.Path, Size: f.Size, Rows: f.Rows, SHA256: f.SHA256})
	if err != nil {
		if t.alive() {
			e.log.Warn("delivery failed", "destination", t.Name, "table", f.Table, "index", f.Index, "error", err)
		}
		t.fail(fmt.Errorf("put %s file %d: %w", f.Table, f.Index, err))
		return
	}
	if obs := e.runner.Observer; obs != nil {
		obs.FileDelivered(e.job.ID, t.Name, f, time.Since(start))
	}
	crashAt(CrashWhileDelivering)
}

// summaries returns the encode summaries of the target's tables, in order.
func (t *target) summaries(all map[string]parquetw.Summary) []parquetw.Summary {
	var out []parquetw.Summary
	for _, name := range t.tables {
		if s, ok := all[name]; ok {
			out = append(out, s)
		}
	}
	return out
}

// growingWriter tells the job, through Grown, once the export as a whole
// has encoded more than GrowAfter rows. Rows are added to the export's
// count in chunks, so that watching costs next to nothing per row.
type growingWriter struct {
	source.RowWriter
	ctx  context.Context
	e    *export
	n    int64
	done bool
}

const growCheckEvery = 1 << 10

func (g *growingWriter) EndRow() error {
	if err := g.RowWriter.EndRow(); err != nil || g.done {
		return err
	}
	if g.n++; g.n < growCheckEvery {
		return nil
	}
	total := g.e.rows.Add(g.n)
	g.n = 0
	if total <= g.e.job.GrowAfter {
		return nil
	}
	g.done = true
	// The first table past the mark tells the job; the others wait for
	// it, so that the whole export waits for its large slot.
	g.e.grow.Do(func() { g.e.growErr = g.e.job.Grown(g.ctx) })
	return g.e.growErr
}

// countingWriter reports encoded rows to an observer in chunks, so that
// progress costs next to nothing per row.
type countingWriter struct {
	*parquetw.TableWriter
	n      int64
	report func(int64)
}

const reportEvery = 1 << 14

func (c *countingWriter) EndRow() error {
	err := c.TableWriter.EndRow()
	if c.n++; c.n == reportEvery {
		c.flush()
	}
	return err
}

func (c *countingWriter) flush() {
	if c.n > 0 {
		c.report(c.n)
		c.n = 0
	}
}
