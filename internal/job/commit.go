package job

import (
	"context"
	"fmt"

	"github.com/exportd/exportd/internal/state"
	"github.com/exportd/exportd/sdk"
)

// recordedDestination wraps a candidate's destination so that each Commit
// happens under the held lease and is recorded on both sides:
//
//  1. the lease is renewed (a dump is made visible only by its holder);
//  2. the commit intent (run, export time, manifest) is recorded;
//  3. the destination commits;
//  4. the commit is recorded, which clears the intent.
//
// A daemon that dies between 3 and 4 leaves the intent: the redelivered
// event then makes the same dump visible again (a recommit, with the same
// receipt) instead of dumping the run anew into another minute.
type recordedDestination struct {
	sdk.Destination
	x *jobRun
	c *candidate
}

var _ sdk.Destination = (*recordedDestination)(nil)

func (x *jobRun) recorded(c *candidate) *recordedDestination {
	return &recordedDestination{Destination: c.dest, x: x, c: c}
}

func (d *recordedDestination) Begin(ctx context.Context, info sdk.ExportInfo) (sdk.Export, error) {
	exp, err := d.Destination.Begin(ctx, info)
	if err != nil {
		return nil, err
	}
	return &recordedExport{Export: exp, d: d, info: info}, nil
}

type recordedExport struct {
	sdk.Export
	d    *recordedDestination
	info sdk.ExportInfo
}

func (x *recordedExport) Commit(ctx context.Context, m sdk.Manifest) (sdk.Receipt, error) {
	job, c := x.d.x, x.d.c
	if err := c.lease.Hold(ctx); err != nil {
		return sdk.Receipt{}, sdk.Retryable(fmt.Errorf("not committing: %w", err))
	}
	intent := state.CommitIntent{Completion: job.s.completion, Run: job.s.event, Time: x.info.Time, Manifest: intentManifest(m)}
	if err := persist(ctx, func(ctx context.Context) error { return job.e.State.RecordIntent(ctx, c.name, intent) }); err != nil {
		return sdk.Receipt{}, sdk.Retryable(fmt.Errorf("not committing: %w", err))
	}
	rc, err := x.Export.Commit(ctx, m)
	if err != nil {
		// Whatever the destination did, the next attempt dumps anew into
		// a later minute rather than trusting files it may have aborted.
		if cerr := persist(ctx, func(ctx context.Context) error { return job.e.State.ClearIntent(ctx, c.name, x.info.Time) }); cerr != nil {
			job.log.Error("clearing a failed commit's intent failed", "destination", c.name, "error", cerr)
		}
		return rc, err
	}
	crashAt(CrashAfterCommit)
	done := state.Commit{CommitIntent: intent, Receipt: rc}
	if err := persist(ctx, func(ctx context.Context) error { return job.e.State.RecordCommit(ctx, c.name, done) }); err != nil {
		job.log.Error("recording a committed dump failed; a redelivery will commit the same dump again", "destination", c.name, "error", err)
	}
	return rc, nil
}

func stateManifest(m sdk.Manifest) []state.ManifestTable {
	out := make([]state.ManifestTable, len(m.Tables))
	for i, t := range m.Tables {
		out[i] = state.ManifestTable{Name: t.Name, Files: t.Files, Rows: t.Rows, Bytes: t.Bytes, Carried: t.Carried,
			Columns: t.Columns, FileList: t.FileList}
	}
	return out
}

func sdkManifest(m []state.ManifestTable) sdk.Manifest {
	out := sdk.Manifest{Tables: make([]sdk.TableManifest, len(m))}
	for i, t := range m {
		out.Tables[i] = sdk.TableManifest{Name: t.Name, Files: t.Files, Rows: t.Rows, Bytes: t.Bytes, Carried: t.Carried,
			Columns: t.Columns, FileList: t.FileList}
	}
	return out
}
