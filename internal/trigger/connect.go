package trigger

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/nats-io/nats.go"
)

// ConnectOptions say how to reach NATS.
type ConnectOptions struct {
	// Embedded, when set, is used in-process and URL is ignored.
	Embedded *Embedded
	Config   config.NATS
	// Name identifies the connection in the server's monitoring.
	Name   string
	Logger *slog.Logger
	// OnReconnect is called after each reconnection (for metrics).
	OnReconnect func()
}

// Connect dials NATS: the embedded server in-process, or the configured
// URL with its credentials or TLS; either with the configured token or
// nkey. The connection reconnects forever. Its errors never hold the
// token or the seed.
func Connect(ctx context.Context, o ConnectOptions) (*nats.Conn, error) {
	opts := handlers(o)
	auth, err := authOptions(o.Config)
	if err != nil {
		return nil, err
	}
	opts = append(opts, auth...)
	url := o.Config.URL
	if o.Embedded != nil {
		opts = append(opts, nats.InProcessServer(o.Embedded.Server()))
		url = ""
	} else {
		opts = append(opts, externalOptions(o.Config)...)
	}
	type result struct {
		nc  *nats.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(url, opts...)
		ch <- result{nc, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("connect to NATS: %w", r.err)
		}
		return r.nc, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// handlers are the connection's name, reconnection policy and event
// handlers, which log through o.Logger.
func handlers(o ConnectOptions) []nats.Option {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("NATS reconnected", "url", c.ConnectedUrlRedacted())
			if o.OnReconnect != nil {
				o.OnReconnect()
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("NATS error", "error", err)
		}),
	}
}

// authOptions sign in with a token or an nkey, to an external server or to
// the embedded one, whose listener requires it (in-process clients too).
func authOptions(c config.NATS) ([]nats.Option, error) {
	var opts []nats.Option
	if c.Token != "" {
		opts = append(opts, nats.Token(c.Token))
	}
	if c.NKeyFile != "" {
		opt, err := nats.NkeyOptionFromSeed(c.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("NATS nkey: %w", err)
		}
		opts = append(opts, opt)
	}
	return opts, nil
}

// externalOptions are the credentials file and TLS settings of an
// external server.
func externalOptions(c config.NATS) []nats.Option {
	var opts []nats.Option
	if c.CredentialsFile != "" {
		opts = append(opts, nats.UserCredentials(c.CredentialsFile))
	}
	if c.TLS != nil {
		if c.TLS.CAFile != "" {
			opts = append(opts, nats.RootCAs(c.TLS.CAFile))
		}
		if c.TLS.CertFile != "" || c.TLS.KeyFile != "" {
			opts = append(opts, nats.ClientCert(c.TLS.CertFile, c.TLS.KeyFile))
		}
	}
	return opts
}
