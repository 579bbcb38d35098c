package trigger

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/nats-io/nats.go"
)

// TestOutboxSendsAgainWhatADyingServerLost: messages written to a
// connection whose server never reads them (it died with them in flight)
// reach subscribers once the client has reconnected; messages published
// straight on the connection at the same moment are lost, which is what
// the outbox is for.
func TestOutboxSendsAgainWhatADyingServerLost(t *testing.T) {
	srv := testsupport.StartNATS(t)
	got := subscribeAll(t, srv.URL, "exportd.jobs.>")
	proxy := startSwallowProxy(t, srv.URL)
	nc, err := nats.Connect(proxy.url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bus := &Bus{NC: nc}

	if err := bus.Publish("exportd.jobs.acme.s3", []byte("before")); err != nil {
		t.Fatal(err)
	}
	got.wait(t, []string{"before"}, 10*time.Second)

	proxy.swallow()
	var want []string
	for i := range 20 {
		m := fmt.Sprintf("outcome-%d", i)
		want = append(want, m)
		if err := bus.Publish("exportd.jobs.acme.s3", []byte(m)); err != nil {
			t.Fatal(err)
		}
		if err := nc.Publish("exportd.jobs.acme.raw", []byte(fmt.Sprintf("raw-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // all written into the dead connection
	if n := proxy.swallowed.Load(); n == 0 {
		t.Fatal("nothing was written while the server was not reading")
	}
	proxy.cut()

	got.wait(t, append([]string{"before"}, want...), 20*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range got.all() {
		if strings.HasPrefix(m, "raw-") {
			t.Fatalf("a message published straight on the dying connection arrived (%s): the test did not lose anything", m)
		}
	}
}

// TestOutboxCloseReportsWhatNATSNeverConfirmed: when NATS cannot be
// reached again before Close's deadline, Close says how many messages
// were not confirmed.
func TestOutboxCloseReportsWhatNATSNeverConfirmed(t *testing.T) {
	srv := testsupport.StartNATS(t)
	proxy := startSwallowProxy(t, srv.URL)
	nc, err := nats.Connect(proxy.url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bus := &Bus{NC: nc}
	proxy.swallow()
	for i := range 3 {
		if err := bus.Publish("exportd.jobs.acme.s3", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	proxy.refuse()
	proxy.cut()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = bus.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "3 outcome messages not confirmed") {
		t.Fatalf("Close = %v, want 3 messages not confirmed", err)
	}
	if err := bus.Publish("exportd.jobs.acme.s3", []byte("late")); err == nil {
		t.Fatal("Publish after Close was accepted")
	}
}

// received collects the messages of a subscription.
type received struct {
	mu   sync.Mutex
	msgs []string
}

func subscribeAll(t *testing.T, url, subject string) *received {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	r := &received{}
	if _, err := nc.Subscribe(subject, func(m *nats.Msg) {
		r.mu.Lock()
		r.msgs = append(r.msgs, string(m.Data))
		r.mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *received) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// wait waits until every message of want was received at least once.
func (r *received) wait(t *testing.T, want []string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		seen := map[string]bool{}
		for _, m := range r.all() {
			seen[m] = true
		}
		var missing []string
		for _, m := range want {
			if !seen[m] {
				missing = append(missing, m)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, not received: %v", timeout, missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// swallowProxy forwards TCP connections on loopback to a NATS server.
// swallow makes it read what clients send and drop it, as a server that
// has died would; cut closes every connection; refuse stops accepting.
type swallowProxy struct {
	url       string
	ln        net.Listener
	target    string
	dropping  atomic.Bool
	swallowed atomic.Int64

	mu    sync.Mutex
	conns []net.Conn
}

func startSwallowProxy(t *testing.T, target string) *swallowProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &swallowProxy{url: "nats://" + ln.Addr().String(), ln: ln, target: strings.TrimPrefix(target, "nats://")}
	t.Cleanup(func() { p.refuse(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *swallowProxy) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.dropping.Store(false) // a new connection is a healthy one
	p.mu.Lock()
	p.conns = append(p.conns, client, server)
	p.mu.Unlock()
	go func() { _, _ = io.Copy(client, server) }()
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			if p.dropping.Load() {
				p.swallowed.Add(int64(n))
			} else if _, werr := server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			server.Close()
			return
		}
	}
}

func (p *swallowProxy) swallow() { p.dropping.Store(true) }

func (p *swallowProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *swallowProxy) refuse() { _ = p.ln.Close() }
