package testsupport

import (
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATS is an in-process nats-server with JetStream, listening on a
// loopback port.
type NATS struct {
	Server *server.Server
	URL    string

	opts *server.Options
}

// StartNATS starts an in-process nats-server with JetStream in a temporary
// store directory, on a free port, stopped when the test ends.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	n := &NATS{opts: &server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}}
	n.start(t)
	n.opts.Port = n.Server.Addr().(*net.TCPAddr).Port // a restart keeps it
	t.Cleanup(n.Stop)
	return n
}

func (n *NATS) start(t testing.TB) {
	t.Helper()
	opts := *n.opts
	srv, err := server.NewServer(&opts)
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	n.Server, n.URL = srv, srv.ClientURL()
}

// Stop shuts the server down. It is safe to call more than once.
func (n *NATS) Stop() {
	n.Server.Shutdown()
	n.Server.WaitForShutdown()
}

// Restart stops the server, waits for down, and starts it again on the
// same port with the same JetStream store, as a server restart in
// production would.
func (n *NATS) Restart(t testing.TB, down time.Duration) {
	t.Helper()
	n.Stop()
	time.Sleep(down)
	n.start(t)
}

// Connect returns a connection and its JetStream context, closed when the
// test ends.
func (n *NATS) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(n.URL)
	if err != nil {
		t.Fatalf("connect to nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}
