// Package sample is the "sample" kind of source: a deterministic generator
// of realistic data for the platform's six tables (companies, contacts,
// events, revenue, revenue_attribution, paid_ads) at any scale. It serves
// the demo, end-to-end tests, which regenerate the rows they expect with
// [Snapshot.Row], and benchmarks.
//
// Row i of a table is a pure function of the seed, the row counts, the
// account, the table and i: the same configuration gives the same rows
// whatever the order in which tables are read, how many are read at once,
// or which other tables are exported. Every value is drawn from a
// counter-based generator (splitmix64 over those inputs), so any row can be
// regenerated alone, and reading a table allocates nothing per row. Rows refer to each other consistently (a contact's company
// exists, an attributed touch is an event of the deal's contact), so joins
// on the exported data give sensible answers.
//
// The package knows nothing of parquet or destinations; it only writes
// rows into a [source.RowWriter].
package sample

import (
	"context"
	"fmt"

	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/sdk"
)

// Source generates sample snapshots. It is safe for concurrent use.
type Source struct {
	config Config
	// exprs, when set, are the HCL attributes the source was configured
	// with, evaluated again for each event (see factory).
	exprs *configExprs
	env   source.Env
}

var _ source.Source = (*Source)(nil)

// New returns a source generating data as cfg says.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sample source: %w", err)
	}
	return &Source{config: cfg}, nil
}

// Open returns the snapshot of the event's account. Tables in req
// restrict and order the source's tables; a name the source does not have
// is an error wrapping ErrUnknownTable.
func (s *Source) Open(ctx context.Context, req source.Request) (source.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg := s.config
	if s.exprs != nil {
		c, diags := s.exprs.decode(evalContext(s.env, &req.Event), true)
		if diags.HasErrors() {
			return nil, sdk.Permanent(fmt.Errorf("sample source for account %s: %w", req.Event.AccountID, diags))
		}
		cfg = c
	}
	snap, err := NewSnapshot(cfg, req.Event.AccountID, req.Tables)
	if err != nil {
		// A configuration the generator refuses stays refused.
		return nil, sdk.Permanent(fmt.Errorf("sample source for account %s: %w", req.Event.AccountID, err))
	}
	return snap, nil
}

// Close does nothing: a sample source holds no resources.
func (s *Source) Close() error { return nil }
