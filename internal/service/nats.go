package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/exportd/exportd/internal/job"
	"github.com/exportd/exportd/internal/jsretry"
	"github.com/exportd/exportd/internal/state"
	"github.com/exportd/exportd/internal/trigger"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrDataDirBusy means another exportd process holds the data directory.
var ErrDataDirBusy = errors.New("data directory is in use by another exportd")

// conn is a connection to NATS with what hangs off it.
type conn struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	state    *state.Store
	embedded *trigger.Embedded
	lock     *os.File
}

func (c *conn) close() {
	if c.nc != nil {
		c.nc.Close()
	}
	if c.embedded != nil {
		c.embedded.Shutdown()
	}
	if c.lock != nil {
		c.lock.Close() // releases the flock
	}
}

// lockDataDir takes an exclusive lock on the data directory, so that two
// processes never run embedded NATS servers on one store.
func lockDataDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "exportd.lock"), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrDataDirBusy, dir)
		}
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	return f, nil
}

// connect reaches NATS as configured: an external server, or the embedded
// one. A daemon (allowShared false) always holds the data directory, which
// owns its spool and embedded store. A command (allowShared true) that
// finds the directory held by a running daemon connects to that daemon's
// embedded server through its listen address instead.
func (s *Service) connect(ctx context.Context, name string, allowShared bool) (*conn, error) {
	cfg := s.Config
	c := &conn{}
	opts := trigger.ConnectOptions{Config: cfg.NATS, Name: name, Logger: s.Log, OnReconnect: s.Metrics.NATSReconnected}
	if cfg.NATS.URL != "" && !allowShared {
		lock, err := lockDataDir(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		c.lock = lock
	}
	if cfg.NATS.URL == "" {
		lock, err := lockDataDir(cfg.DataDir)
		switch {
		case err == nil:
			c.lock = lock
			emb, err := s.startEmbedded()
			if err != nil {
				c.close()
				return nil, err
			}
			c.embedded = emb
			opts.Embedded = emb
		case errors.Is(err, ErrDataDirBusy) && allowShared && cfg.NATS.Listen != "":
			opts.Config.URL = "nats://" + cfg.NATS.Listen
		case errors.Is(err, ErrDataDirBusy) && allowShared:
			return nil, fmt.Errorf("%w; set nats { listen = \"127.0.0.1:4222\" } so that commands can reach the running daemon's embedded NATS", err)
		default:
			return nil, err
		}
	}
	if err := s.attach(ctx, c, opts, allowShared); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// attach connects c to NATS and opens the shared state, within the
// start-up bound of a daemon or of a command.
func (s *Service) attach(ctx context.Context, c *conn, opts trigger.ConnectOptions, command bool) error {
	cfg := s.Config
	limit := daemonStartup
	if command {
		limit = commandStartup
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	dial := func(ctx context.Context) error {
		nc, err := trigger.Connect(ctx, opts)
		c.nc = nc
		return err
	}
	var err error
	if command {
		err = dial(ctx) // a command says at once that NATS is out of reach
	} else {
		err = jsretry.Startup(ctx, s.Log, "connect", dial)
	}
	if err != nil {
		return err
	}
	if c.js, err = jetstream.New(c.nc); err != nil {
		return err
	}
	c.state, err = state.Open(ctx, c.js, state.Options{
		Prefix:   cfg.NATS.KVPrefix,
		Replicas: cfg.NATS.Replicas,
		LeaseTTL: cfg.Jobs.LeaseTTL,
		RetryFor: state.RetryBound(cfg.Jobs.LeaseTTL, cfg.Jobs.AckWait),
		Logger:   s.Log,
	})
	return err
}

// How long start-up waits for NATS. A daemon waits for NATS to be
// reachable, for a cluster that is forming or electing leaders, for a node
// that is down to come back when new buckets need all three, and for
// replicas starting at the same moment to agree on each bucket, logging its
// progress; systemd restarts it if that is not enough. A command, which
// someone waits for, fails at once when NATS is out of reach and gives up
// sooner on the rest.
const (
	daemonStartup  = 3 * time.Minute
	commandStartup = 30 * time.Second
)

// setupStream creates or updates the event stream and the durable
// consumer, retrying as start-up does.
func (s *Service) setupStream(ctx context.Context, c *conn) (jetstream.Consumer, error) {
	sctx, cancel := context.WithTimeout(ctx, daemonStartup)
	defer cancel()
	var cons jetstream.Consumer
	err := jsretry.Startup(sctx, s.Log, "stream "+s.Config.NATS.Stream, func(ctx context.Context) error {
		var err error
		cons, err = trigger.Setup(ctx, c.js, s.Config.NATS, s.Config.Jobs, job.QueueSubjectPrefix+">")
		return err
	})
	return cons, err
}

// startEmbedded starts the embedded NATS server in the data directory,
// requiring the configured token or nkey of its clients. Listening without
// either lets any local process publish events and request re-exports: it
// works, and says so.
func (s *Service) startEmbedded() (*trigger.Embedded, error) {
	n := s.Config.NATS
	o := trigger.EmbeddedOptions{StoreDir: filepath.Join(s.Config.DataDir, "nats"), Listen: n.Listen, Token: n.Token}
	auth := "none"
	switch {
	case n.Token != "":
		auth = "token"
	case n.NKeyFile != "":
		pub, err := trigger.PublicNKey(n.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("embedded NATS: %w", err)
		}
		o.NKey, auth = pub, "nkey"
	}
	emb, err := trigger.StartEmbedded(o)
	if err != nil {
		return nil, err
	}
	s.Log.Info("embedded NATS started", "store", o.StoreDir, "listen", emb.ClientURL(), "authentication", auth)
	if n.Listen != "" && !emb.Authenticated() {
		s.Log.Warn("embedded NATS listens without authentication: any local process can publish events and request re-exports; set nats { token } or nkey_file",
			"listen", emb.ClientURL())
	}
	return emb, nil
}
