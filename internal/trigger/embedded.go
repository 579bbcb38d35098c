// Package trigger connects exportd to NATS: it runs the embedded
// nats-server when no URL is configured, dials an external one otherwise,
// sets up the JetStream stream and durable consumer that carry
// modelling-complete events, and hands each event to a handler, one message
// per worker, acknowledging it as the handler decides.
//
// It knows nothing of exports: what an event means is the job engine's
// business.
package trigger

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Embedded is an in-process nats-server with JetStream.
type Embedded struct {
	srv *server.Server
}

// EmbeddedOptions configure the embedded server.
type EmbeddedOptions struct {
	// StoreDir holds JetStream's data (streams and KV buckets).
	StoreDir string
	// Listen is a loopback host:port on which to accept clients; empty
	// keeps the server in-process only.
	Listen string
}

// StartEmbedded starts an embedded server and waits until it is ready.
func StartEmbedded(o EmbeddedOptions) (*Embedded, error) {
	opts := &server.Options{
		ServerName:         "exportd-embedded",
		JetStream:          true,
		StoreDir:           filepath.Join(o.StoreDir),
		DontListen:         o.Listen == "",
		NoSigs:             true,
		NoLog:              true,
		JetStreamMaxMemory: 64 << 20,
	}
	if o.Listen != "" {
		host, port, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("embedded NATS listen address: %w", err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("embedded NATS listen port: %w", err)
		}
		opts.Host, opts.Port = host, p
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("embedded NATS did not become ready in 30s (is the listen port in use, or the store dir locked by another exportd?)")
	}
	return &Embedded{srv: srv}, nil
}

// Server returns the underlying server, for in-process connections.
func (e *Embedded) Server() *server.Server { return e.srv }

// ClientURL is the URL on which the server accepts clients, empty when it
// does not listen.
func (e *Embedded) ClientURL() string {
	if e.srv.Addr() == nil {
		return ""
	}
	return e.srv.ClientURL()
}

// Shutdown stops the server and waits for it.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}
