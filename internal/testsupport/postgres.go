package testsupport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// PostgresBinDir holds the PostgreSQL 15 server programs of the machine
// image. EXPORTD_PG_BIN overrides it.
const PostgresBinDir = "/usr/lib/postgresql/15/bin"

// PostgresSuperuser is the name and password of the superuser of every
// server started here. Roles made by NewDatabase get their own passwords.
const PostgresSuperuser = "postgres"

const postgresSuperPassword = "super-secret-test-pw"

// Postgres is a private PostgreSQL server: its own data directory, unix
// socket directory and 127.0.0.1 port. TCP connections need a password;
// unix-socket connections are trusted.
type Postgres struct {
	Port      int
	Dir       string // data, socket and log live below it
	SocketDir string
	CAFile    string // with PostgresOptions.TLS: the CA that signed the server's certificate

	cmd     *exec.Cmd
	exited  chan struct{}
	stopped sync.Once
	seq     atomic.Int64
}

// StartPostgres starts a server for one test and stops it, removing its
// files, when the test ends. Prefer SharedPostgres with per-test databases
// for speed.
func StartPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	return StartPostgresWith(tb, PostgresOptions{})
}

// PostgresOptions select optional features of a server started with
// StartPostgresWith.
type PostgresOptions struct {
	// TLS turns on ssl with a certificate for 127.0.0.1 and localhost,
	// signed by a fresh CA whose certificate is in Postgres.CAFile.
	TLS bool
}

// StartPostgresWith is StartPostgres with options.
func StartPostgresWith(tb testing.TB, opts PostgresOptions) *Postgres {
	tb.Helper()
	pg, err := startPostgres(opts)
	if err != nil {
		tb.Fatalf("start postgres: %v", err)
	}
	tb.Cleanup(func() {
		if err := pg.Stop(); err != nil {
			tb.Errorf("stop postgres: %v", err)
		}
	})
	return pg
}

var shared struct {
	mu  sync.Mutex
	pg  *Postgres
	err error
}

// SharedPostgres returns the server shared by every test of the package,
// starting it on first use. The package's TestMain must call
// StopSharedPostgres after m.Run; should it not, the server still dies
// with the test process (it gets SIGQUIT when its parent exits), but its
// files stay in the temporary directory.
func SharedPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.pg == nil && shared.err == nil {
		shared.pg, shared.err = startPostgres(PostgresOptions{})
	}
	if shared.err != nil {
		tb.Fatalf("start shared postgres: %v", shared.err)
	}
	return shared.pg
}

// StopSharedPostgres stops the shared server, if one was started. It is
// safe to call more than once.
func StopSharedPostgres() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.pg == nil {
		return nil
	}
	err := shared.pg.Stop()
	shared.pg = nil
	return err
}

// runAs is how server programs are run: as the unprivileged postgres user
// when the test runs as root (initdb and postgres refuse root), as the
// current user otherwise.
type runAs struct {
	cred     *syscall.Credential
	uid, gid int
}

func serverUser() (runAs, error) {
	if os.Geteuid() != 0 {
		return runAs{uid: -1, gid: -1}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return runAs{}, fmt.Errorf("running as root needs a postgres user to run the server as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return runAs{
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)},
		uid:  uid, gid: gid,
	}, nil
}

func (r runAs) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	// Go sets the parent-death signal after switching user, so it
	// survives the switch: the server never outlives the test process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred, Pdeathsig: syscall.SIGQUIT}
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	return cmd
}

func binDir() string {
	if d := os.Getenv("EXPORTD_PG_BIN"); d != "" {
		return d
	}
	return PostgresBinDir
}

func startPostgres(opts PostgresOptions) (pg *Postgres, err error) {
	as, err := serverUser()
	if err != nil {
		return nil, err
	}
	// os.MkdirTemp in the system temporary directory, which every user
	// can traverse (t.TempDir's parents are private to root).
	dir, err := os.MkdirTemp("", "exportd-pg-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	if err := os.Mkdir(sock, 0o700); err != nil {
		return nil, err
	}
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(postgresSuperPassword+"\n"), 0o600); err != nil {
		return nil, err
	}
	if as.cred != nil {
		for _, p := range []string{dir, sock, pwfile} {
			if err := os.Chown(p, as.uid, as.gid); err != nil {
				return nil, err
			}
		}
	}

	initdb := as.command(filepath.Join(binDir(), "initdb"),
		"-D", data, "-U", PostgresSuperuser, "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}

	var tlsArgs []string
	var caFile string
	if opts.TLS {
		if caFile, tlsArgs, err = writeServerCert(dir, as); err != nil {
			return nil, err
		}
	}
	port, err := loopbackPort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := as.command(filepath.Join(binDir(), "postgres"),
		"-D", data, "-p", strconv.Itoa(port), "-k", sock,
		"-c", "listen_addresses=127.0.0.1",
		// Throwaway data: durability only slows the tests down.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=128MB",
		"-c", "log_min_messages=warning", "-c", "timezone=UTC")
	cmd.Args = append(cmd.Args, tlsArgs...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	pg = &Postgres{Port: port, Dir: dir, SocketDir: sock, CAFile: caFile, cmd: cmd, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(pg.exited)
	}()
	if err := pg.waitReady(30 * time.Second); err != nil {
		pg.Stop()
		return nil, err
	}
	return pg, nil
}

func (pg *Postgres) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := pgconn.Connect(ctx, pg.SocketDSN("postgres"))
		cancel()
		if err == nil {
			c.Close(context.Background())
			return nil
		}
		select {
		case <-pg.exited:
			return fmt.Errorf("postgres exited while starting: %s", pg.Log())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready after %v: %v\n%s", limit, err, pg.Log())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Log returns the server's log so far, for failure messages.
func (pg *Postgres) Log() string {
	b, _ := os.ReadFile(filepath.Join(pg.Dir, "postgres.log"))
	return string(b)
}

// Stop shuts the server down (fast shutdown, then immediate, then kill)
// and removes its files. It is safe to call more than once.
func (pg *Postgres) Stop() error {
	var err error
	pg.stopped.Do(func() {
	signals:
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGKILL} {
			if e := pg.cmd.Process.Signal(sig); e != nil && !errors.Is(e, os.ErrProcessDone) {
				err = e
			}
			select {
			case <-pg.exited:
				err = nil
				break signals
			case <-time.After(10 * time.Second):
			}
		}
		if e := os.RemoveAll(pg.Dir); e != nil && err == nil {
			err = e
		}
	})
	return err
}

// PID is the server's (the postmaster's) process id.
func (pg *Postgres) PID() int { return pg.cmd.Process.Pid }

// SuperuserDSN connects to db as the superuser over the unix socket.
func (pg *Postgres) SuperuserDSN(db string) string { return pg.SocketDSN(db) }

// SocketDSN connects to db as the superuser over the unix socket, where no
// password is asked.
func (pg *Postgres) SocketDSN(db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", pg.SocketDir, pg.Port, PostgresSuperuser, db)
}

// TCPDSN connects to db as user with password over 127.0.0.1.
func (pg *Postgres) TCPDSN(db, user, password string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", user, password, pg.Port, db)
}

// Exec runs SQL statements (several may be separated by semicolons) in db
// as the superuser, failing the test on error.
func (pg *Postgres) Exec(tb testing.TB, db, sql string) {
	tb.Helper()
	if err := pg.exec(db, sql); err != nil {
		tb.Fatalf("postgres: %v\nSQL: %s", err, sql)
	}
}

func (pg *Postgres) exec(db, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := pgconn.Connect(ctx, pg.SocketDSN(db))
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, sql).ReadAll()
	return err
}

// Database is a fresh database with an owner role that logs in over TCP
// with a password.
type Database struct {
	Name     string
	User     string
	Password string
	DSN      string // as User, over 127.0.0.1 with the password
}

// NewDatabase creates a database owned by a new login role, both named
// after the test, and returns it. Nothing is dropped afterwards: the
// server and its files go away with the test process.
func (pg *Postgres) NewDatabase(tb testing.TB) Database {
	tb.Helper()
	n := pg.seq.Add(1)
	name := fmt.Sprintf("db%d", n)
	role := fmt.Sprintf("owner%d", n)
	pw := fmt.Sprintf("pw-%d-%x", n, time.Now().UnixNano())
	pg.Exec(tb, "postgres", fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s'`, role, pw))
	pg.Exec(tb, "postgres", fmt.Sprintf(`CREATE DATABASE %s OWNER %s`, name, role))
	return Database{Name: name, User: role, Password: pw, DSN: pg.TCPDSN(name, role, pw)}
}

// ExecScalar runs a query returning one value in db as the superuser and
// returns it in text form.
func (pg *Postgres) ExecScalar(tb testing.TB, db, sql string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgconn.Connect(ctx, pg.SocketDSN(db))
	if err != nil {
		tb.Fatalf("postgres: %v", err)
	}
	defer c.Close(context.Background())
	res := c.ExecParams(ctx, sql, nil, nil, nil, nil).Read()
	if res.Err != nil {
		tb.Fatalf("postgres: %v\nSQL: %s", res.Err, sql)
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		tb.Fatalf("postgres: %q returned %d rows, want one value", sql, len(res.Rows))
	}
	return string(bytes.Clone(res.Rows[0][0]))
}
