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
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// Embedded is an in-process nats-server with JetStream.
type Embedded struct {
	srv  *server.Server
	auth bool
}

// EmbeddedOptions configure the embedded server.
type EmbeddedOptions struct {
	// StoreDir holds JetStream's data (streams and KV buckets).
	StoreDir string
	// Listen is a loopback host:port on which to accept clients; empty
	// keeps the server in-process only.
	Listen string
	// Token, if set, is required of every client, in-process ones too.
	Token string
	// NKey, if set, is the public user nkey every client must sign in
	// with. Token and NKey exclude each other.
	NKey string
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
	switch {
	case o.Token != "" && o.NKey != "":
		return nil, errors.New("embedded NATS takes a token or an nkey, not both")
	case o.Token != "":
		opts.Authorization = o.Token
	case o.NKey != "":
		if !nkeys.IsValidPublicUserKey(o.NKey) {
			return nil, errors.New("embedded NATS: the nkey is not a user's public key")
		}
		opts.Nkeys = []*server.NkeyUser{{Nkey: o.NKey}}
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
	return &Embedded{srv: srv, auth: o.Token != "" || o.NKey != ""}, nil
}

// Authenticated reports whether the server requires clients to sign in.
func (e *Embedded) Authenticated() bool { return e.auth }

// PublicNKey reads an nkey seed file and returns the user's public key,
// which the embedded server admits. Its errors never hold the seed.
func PublicNKey(seedFile string) (string, error) {
	b, err := os.ReadFile(seedFile)
	if err != nil {
		return "", fmt.Errorf("read nkey file: %w", err)
	}
	kp, err := nkeys.ParseDecoratedNKey(b)
	if err != nil {
		return "", fmt.Errorf("nkey file %s holds no nkey seed", seedFile)
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return "", fmt.Errorf("nkey file %s holds no user nkey seed (one starting with SU)", seedFile)
	}
	return pub, nil
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
