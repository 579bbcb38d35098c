package testsupport

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestPostgresStartsAndCleansUp(t *testing.T) {
	var dir string
	t.Run("server", func(t *testing.T) {
		pg := StartPostgres(t)
		dir = pg.Dir
		if v := pg.ExecScalar(t, "postgres", "SHOW server_version_num"); !strings.HasPrefix(v, "15") {
			t.Errorf("server_version_num = %s, want 15xxxx", v)
		}
		db := pg.NewDatabase(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgconn.Connect(ctx, db.DSN)
		if err != nil {
			t.Fatalf("connect as %s over TCP: %v", db.User, err)
		}
		defer c.Close(ctx)
		res := c.ExecParams(ctx, "SELECT current_user, current_database()", nil, nil, nil, nil).Read()
		if res.Err != nil || string(res.Rows[0][0]) != db.User || string(res.Rows[0][1]) != db.Name {
			t.Fatalf("got %v %q", res.Err, res.Rows)
		}
		if _, err := pgconn.Connect(ctx, pg.TCPDSN(db.Name, db.User, "wrong")); err == nil {
			t.Error("a wrong password was accepted over TCP")
		}
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("data directory %s still there after the test: %v", dir, err)
	}
}

func TestPostgresTLS(t *testing.T) {
	pg := StartPostgresWith(t, PostgresOptions{TLS: true})
	db := pg.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dsn := strings.Replace(db.DSN, "sslmode=disable", "sslmode=verify-full&sslrootcert="+pg.CAFile, 1)
	c, err := pgconn.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect with verify-full: %v", err)
	}
	defer c.Close(ctx)
	res := c.ExecParams(ctx, "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()", nil, nil, nil, nil).Read()
	if res.Err != nil || len(res.Rows) != 1 || string(res.Rows[0][0]) != "true" {
		t.Fatalf("not over TLS: %v %q", res.Err, res.Rows)
	}
}
