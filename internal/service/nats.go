package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

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
			emb, err := trigger.StartEmbedded(trigger.EmbeddedOptions{StoreDir: filepath.Join(cfg.DataDir, "nats"), Listen: cfg.NATS.Listen})
			if err != nil {
				c.close()
				return nil, err
			}
			c.embedded = emb
			opts.Embedded = emb
			s.Log.Info("embedded NATS started", "store", filepath.Join(cfg.DataDir, "nats"), "listen", emb.ClientURL())
		case errors.Is(err, ErrDataDirBusy) && allowShared && cfg.NATS.Listen != "":
			opts.Config.URL = "nats://" + cfg.NATS.Listen
		case errors.Is(err, ErrDataDirBusy) && allowShared:
			return nil, fmt.Errorf("%w; set nats { listen = \"127.0.0.1:4222\" } so that commands can reach the running daemon's embedded NATS", err)
		default:
			return nil, err
		}
	}
	nc, err := trigger.Connect(ctx, opts)
	if err != nil {
		c.close()
		return nil, err
	}
	c.nc = nc
	if c.js, err = jetstream.New(nc); err != nil {
		c.close()
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c.state, err = state.Open(sctx, c.js, state.Options{
		Prefix:   cfg.NATS.KVPrefix,
		Replicas: cfg.NATS.Replicas,
		LeaseTTL: cfg.Jobs.LeaseTTL,
	})
	if err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}
