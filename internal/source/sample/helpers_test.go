package sample

import (
	"context"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/schema"
	"github.com/exportd/exportd/internal/source"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// readAll reads a table through a checking Recorder, failing the test on
// any misuse of the RowWriter contract.
func readAll(t testing.TB, snap *Snapshot, table string) [][]any {
	t.Helper()
	rec := NewRecorder(schemaOf(t, snap, table))
	if err := snap.ReadTable(context.Background(), table, rec); err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	return rec.Rows()
}

func schemaOf(t testing.TB, snap *Snapshot, table string) schema.Table {
	t.Helper()
	for _, s := range snap.Tables() {
		if s.Name == table {
			return s
		}
	}
	t.Fatalf("snapshot has no table %s", table)
	return schema.Table{}
}

func mustSnapshot(t testing.TB, cfg Config, account string, tables ...string) *Snapshot {
	t.Helper()
	snap, err := NewSnapshot(cfg, account, tables)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// columns indexes a table's columns by name.
func columns(s schema.Table) map[string]int {
	m := make(map[string]int, len(s.Columns))
	for k, c := range s.Columns {
		m[c.Name] = k
	}
	return m
}

// testEnv evaluates expressions as the daemon's configuration does: the
// event's fields are known at export time and unknown at startup.
func testEnv() source.Env {
	return source.Env{EvalContext: func(ev *event.ModellingCompleted) *hcl.EvalContext {
		fields := map[string]cty.Value{
			"account_id":   cty.UnknownVal(cty.String),
			"run_id":       cty.UnknownVal(cty.String),
			"completed_at": cty.UnknownVal(cty.String),
			"snapshot":     cty.UnknownVal(cty.String),
		}
		if ev != nil {
			fields = map[string]cty.Value{
				"account_id":   cty.StringVal(ev.AccountID),
				"run_id":       cty.StringVal(ev.RunID),
				"completed_at": cty.StringVal(ev.CompletedAt.Format(time.RFC3339Nano)),
				"snapshot":     cty.StringVal(ev.Snapshot),
			}
		}
		return &hcl.EvalContext{
			Variables: map[string]cty.Value{"event": cty.ObjectVal(fields)},
			Functions: map[string]function.Function{"lower": stdlib.LowerFunc},
		}
	}}
}
