package postgres

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := testsupport.StopSharedPostgres(); err != nil {
		fmt.Fprintln(os.Stderr, "stop postgres:", err)
	}
	os.Exit(code)
}

// testEnv mirrors the daemon's evaluation context: env(), some of the
// standard functions, and the event variable, whose fields are unknown at
// startup.
func testEnv() source.Env {
	envFn := function.New(&function.Spec{
		Params: []function.Parameter{{Name: "name", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v, ok := os.LookupEnv(args[0].AsString())
			if !ok {
				return cty.NilVal, fmt.Errorf("environment variable %s is not set", args[0].AsString())
			}
			return cty.StringVal(v), nil
		},
	})
	return source.Env{EvalContext: func(ev *event.ModellingCompleted) *hcl.EvalContext {
		obj := cty.ObjectVal(map[string]cty.Value{
			"account_id": cty.UnknownVal(cty.String),
			"run_id":     cty.UnknownVal(cty.String),
			"snapshot":   cty.UnknownVal(cty.String),
		})
		if ev != nil {
			obj = cty.ObjectVal(map[string]cty.Value{
				"account_id": cty.StringVal(ev.AccountID),
				"run_id":     cty.StringVal(ev.RunID),
				"snapshot":   cty.StringVal(ev.Snapshot),
			})
		}
		return &hcl.EvalContext{
			Functions: map[string]function.Function{"env": envFn, "lower": stdlib.LowerFunc, "replace": stdlib.ReplaceFunc, "format": stdlib.FormatFunc},
			Variables: map[string]cty.Value{"event": obj},
		}
	}}
}

func parseBody(t testing.TB, src string) hcl.Body {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "exportd.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	return f.Body
}

// newSource builds a source from a block body, failing the test on
// diagnostics, and closes it when the test ends.
func newSource(t testing.TB, src string) *Source {
	t.Helper()
	s, diags := New(parseBody(t, src), testEnv())
	if diags.HasErrors() {
		t.Fatalf("New: %v", diags)
	}
	t.Cleanup(func() { s.Close() })
	return s.(*Source)
}

func ev(account string) event.ModellingCompleted {
	return event.ModellingCompleted{AccountID: account, RunID: "run1", CompletedAt: time.Unix(1700000000, 0).UTC()}
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// recorder is a RowWriter that keeps every value in canonical text form,
// the form the parquet read-back produces too, so that both can be
// compared with one table of expected values.
type recorder struct {
	rows  [][]string
	cur   []string
	list  []string
	depth int
	// onRow, if set, runs after each row (to slow the reader down, or to
	// block it).
	onRow func(n int)
}

var _ source.RowWriter = (*recorder)(nil)

func (r *recorder) add(s string) {
	if r.depth > 0 {
		r.list = append(r.list, s)
		return
	}
	r.cur = append(r.cur, s)
}

func (r *recorder) Null()             { r.add("NULL") }
func (r *recorder) Bool(v bool)       { r.add(strconv.FormatBool(v)) }
func (r *recorder) Int32(v int32)     { r.add(strconv.FormatInt(int64(v), 10)) }
func (r *recorder) Int64(v int64)     { r.add(strconv.FormatInt(v, 10)) }
func (r *recorder) BigInt(v *big.Int) { r.add(v.String()) }
func (r *recorder) Float32(v float32) { r.add(strconv.FormatFloat(float64(v), 'g', -1, 32)) }
func (r *recorder) Float64(v float64) { r.add(strconv.FormatFloat(v, 'g', -1, 64)) }
func (r *recorder) Bytes(v []byte)    { r.add(strconv.Quote(string(v))) }
func (r *recorder) String(v string)   { r.add(strconv.Quote(v)) }
func (r *recorder) Fixed(v []byte)    { r.add(hex.EncodeToString(v)) }
func (r *recorder) BeginList(n int)   { r.depth++; r.list = r.list[:0] }
func (r *recorder) EndList() {
	r.depth--
	r.add("[" + strings.Join(r.list, ", ") + "]")
}
func (r *recorder) EndRow() error {
	r.rows = append(r.rows, r.cur)
	r.cur = nil
	if r.onRow != nil {
		r.onRow(len(r.rows))
	}
	return nil
}

// readAll opens a snapshot and reads every table into recorders.
func readAll(t testing.TB, s *Source, e event.ModellingCompleted) (map[string]*recorder, []string) {
	t.Helper()
	ctx := testContext(t)
	snap, err := s.Open(ctx, source.Request{Event: e})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer snap.Close()
	out := map[string]*recorder{}
	var names []string
	for _, tbl := range snap.Tables() {
		r := &recorder{}
		if err := snap.ReadTable(ctx, tbl.Name, r); err != nil {
			t.Fatalf("ReadTable %s: %v", tbl.Name, err)
		}
		out[tbl.Name] = r
		names = append(names, tbl.Name)
	}
	return out, names
}

// checkNoGoroutineLeak fails the test if, once it is over, more goroutines
// run than before it started.
func checkNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("%d goroutines before the test, %d after:\n%s", before, n, buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// checkNoConnections fails the test if, once it is over (and its sources
// closed), role still has sessions on the server.
func checkNoConnections(t *testing.T, pg *testsupport.Postgres, role string) {
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			n := pg.ExecScalar(t, "postgres", fmt.Sprintf("SELECT count(*) FROM pg_stat_activity WHERE usename = '%s'", role))
			if n == "0" {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%s sessions of %s still open after the test", n, role)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func sourceRequest(e event.ModellingCompleted) source.Request { return source.Request{Event: e} }

func kindOf(err error) string { return sdk.KindOf(err).String() }
