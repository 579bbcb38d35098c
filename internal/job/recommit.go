package job

import (
	"context"
	"fmt"
	"time"

	"github.com/exportd/exportd/internal/parquetw"
	"github.com/exportd/exportd/sdk"
)

// recommit makes a dump visible again whose files an earlier attempt
// delivered and whose Commit may or may not have happened before the
// daemon died: the same export time and manifest, so that the destination
// writes the same receipt, byte for byte. The destination refuses if a
// later dump's receipt is visible already. Should the recommit fail, its
// intent is cleared and the next attempt dumps anew.
func (x *jobRun) recommit(c *candidate) Outcome {
	in := c.intent
	m := sdkManifest(in.Manifest)
	o := Outcome{Destination: c.name, Time: in.Time}
	info := sdk.ExportInfo{
		ID:           x.s.jobID + "/" + c.name + "/recommit",
		Account:      x.s.event.AccountID,
		RunID:        x.s.event.RunID,
		Time:         in.Time,
		PreviousTime: c.ds.LastTime,
		Recommit:     true,

		ExporterVersion: x.e.Runner.Version,
	}
	for _, t := range m.Tables {
		if t.Carried.IsZero() {
			info.Tables = append(info.Tables, t.Name)
			o.Tables = append(o.Tables, parquetw.Summary{Table: t.Name, Files: t.Files, Rows: t.Rows, Bytes: t.Bytes})
		}
	}
	exp, err := x.recorded(c).Begin(x.jobCtx, info)
	if err != nil {
		if cerr := persist(x.ctx, func(ctx context.Context) error { return x.e.State.ClearIntent(ctx, c.name, in.Time) }); cerr != nil {
			x.log.Error("clearing a refused recommit's intent failed", "destination", c.name, "error", cerr)
		}
		o.Err = fmt.Errorf("begin recommit: %w", err)
		return o
	}
	rc, err := exp.Commit(x.jobCtx, m)
	if err != nil {
		actx, cancel := context.WithTimeout(context.WithoutCancel(x.ctx), 30*time.Second)
		defer cancel()
		if aerr := exp.Abort(actx); aerr != nil {
			x.log.Warn("abort failed", "destination", c.name, "error", aerr)
		}
		o.Err = fmt.Errorf("recommit: %w", err)
		return o
	}
	o.Receipt = rc
	return o
}
