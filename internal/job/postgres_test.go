package job

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/parquetw"
	"github.com/exportd/exportd/internal/source"
	_ "github.com/exportd/exportd/internal/source/postgres"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := testsupport.StopSharedPostgres(); err != nil {
		fmt.Fprintln(os.Stderr, "stop postgres:", err)
	}
	os.Exit(code)
}

// postgresSource builds the postgres source from an HCL source block, as
// the daemon does.
func postgresSource(t *testing.T, body string) source.Source {
	t.Helper()
	cfg, diags := config.Parse([]byte("data_dir = \"x\"\nsource \"postgres\" {\n"+body+"\n}\n"), "test.hcl", t.TempDir())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	factory, _ := source.Lookup("postgres")
	src, diags := factory(cfg.Source.Body, source.Env{EvalContext: cfg.EventContext, DataDir: t.TempDir()})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// killer is an observer that runs an action once, when the first file of
// the export has been encoded: the export is then half-way.
type killer struct {
	once sync.Once
	act  func()
}

func (k *killer) TableStarted(string, string)                                {}
func (k *killer) RowsEncoded(string, string, int64)                          {}
func (k *killer) FileEncoded(string, parquetw.File)                          { k.once.Do(k.act) }
func (k *killer) FileDelivered(string, string, parquetw.File, time.Duration) {}
func (k *killer) TableEncoded(string, parquetw.Summary)                      {}

// TestPostgresFailuresCommitNothing: each way the source can fail
// mid-job fails the export with the right kind, commits nothing to any
// destination, and leaves the spool empty.
func TestPostgresFailuresCommitNothing(t *testing.T) {
	pg := testsupport.SharedPostgres(t)
	db := pg.NewDatabase(t)
	pg.CreateEventsTable(t, db, "acct_acme")
	pg.FillEventsTable(t, db, "acct_acme", 1, 200_000)
	pg.Exec(t, db.Name, "SET ROLE "+db.User+"; CREATE TABLE acct_acme.companies (company_id text PRIMARY KEY, name text)")
	pg.Exec(t, "postgres", "CREATE ROLE reader"+db.Name+" LOGIN PASSWORD 'pw'")
	pg.Exec(t, db.Name, "SET ROLE "+db.User+"; GRANT USAGE ON SCHEMA acct_acme TO reader"+db.Name+"; GRANT SELECT ON acct_acme.events TO reader"+db.Name)
	readerDSN := pg.TCPDSN(db.Name, "reader"+db.Name, "pw")

	tests := []struct {
		name   string
		source string
		kind   sdk.ErrorKind
		want   string
		during func() // run half-way through the export
	}{
		{
			name:   "missing schema",
			source: fmt.Sprintf("dsn = %q\nschema = \"acct_${event.account_id}_gone\"\ntables = [\"events\"]", db.DSN),
			kind:   sdk.KindPermanent, want: "acct_acme_gone",
		},
		{
			name:   "missing table",
			source: fmt.Sprintf("dsn = %q\nschema = \"acct_${event.account_id}\"\ntables = [\"events\", \"paid_ads\"]", db.DSN),
			kind:   sdk.KindPermanent, want: "paid_ads",
		},
		{
			name:   "permission denied",
			source: fmt.Sprintf("dsn = %q\nschema = \"acct_${event.account_id}\"\ntables = [\"events\", \"companies\"]", readerDSN),
			kind:   sdk.KindPermanent, want: "permission denied",
		},
		{
			name:   "statement timeout",
			source: fmt.Sprintf("dsn = %q\nschema = \"acct_${event.account_id}\"\ntables = [\"events\"]\nstatement_timeout = \"100ms\"", db.DSN),
			kind:   sdk.KindRetryable, want: "timeout",
		},
		{
			name:   "connection lost mid-export",
			source: fmt.Sprintf("dsn = %q\nschema = \"acct_${event.account_id}\"\ntables = [\"events\"]", db.DSN),
			kind:   sdk.KindRetryable,
			during: func() {
				pg.ExecScalar(t, "postgres", "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '"+db.Name+"' AND backend_type = 'client backend'")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dests, roots := launchLocalfs(t, "a", "b")
			r := &Runner{
				Source:           postgresSource(t, tt.source),
				SpoolDir:         t.TempDir(),
				Parquet:          parquetw.Options{TargetFileSize: 256 << 10},
				TableParallelism: 2,
				PutConcurrency:   2,
				MaxSpooledFiles:  2,
			}
			if tt.during != nil {
				r.Observer = &killer{act: tt.during}
			}
			at := time.Now().UTC()
			outcomes := r.Run(context.Background(), Job{
				ID:    "pg-" + strings.ReplaceAll(tt.name, " ", "-"),
				Event: event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: at},
				Targets: []Target{
					{Name: "a", Destination: dests["a"], Time: at},
					{Name: "b", Destination: dests["b"], Time: at},
				},
			})
			for _, o := range outcomes {
				if o.Err == nil {
					t.Fatalf("%s: the export succeeded", o.Destination)
				}
				if got := sdk.KindOf(o.Err); got != tt.kind {
					t.Fatalf("%s: %v error, want %v: %v", o.Destination, got, tt.kind, o.Err)
				}
				if !strings.Contains(o.Err.Error(), tt.want) {
					t.Fatalf("%s: error %q does not mention %q", o.Destination, o.Err, tt.want)
				}
				if strings.Contains(o.Err.Error(), db.Password) {
					t.Fatalf("the password leaked into the error: %v", o.Err)
				}
			}
			for name, root := range roots {
				if _, err := os.Stat(filepath.Join(root, "receipt.json")); !os.IsNotExist(err) {
					t.Fatalf("%s: a receipt was written", name)
				}
			}
			assertEmpty(t, r.SpoolDir)
		})
	}
}
