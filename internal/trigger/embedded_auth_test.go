package trigger

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// loopbackAddr returns a free 127.0.0.1 address.
func loopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestEmbeddedAuthentication: with a token or an nkey, the embedded
// server's listener refuses clients without it, admits those with it, and
// so does the in-process connection; errors never show the secret.
func TestEmbeddedAuthentication(t *testing.T) {
	const token = "embedded-test-token-5e1f"
	user, _ := nkeys.CreateUser()
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	seedFile := filepath.Join(t.TempDir(), "exportd.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := PublicNKey(seedFile); err != nil || got != pub {
		t.Fatalf("PublicNKey: %q, %v", got, err)
	}
	notSeed := filepath.Join(t.TempDir(), "not.nk")
	os.WriteFile(notSeed, []byte("SUnot-a-seed"), 0o600)
	if _, err := PublicNKey(notSeed); err == nil || strings.Contains(err.Error(), "SUnot") {
		t.Fatalf("PublicNKey of a bad seed: %v", err)
	}

	for _, tc := range []struct {
		name string
		opts EmbeddedOptions
		auth config.NATS // how a client signs in
	}{
		{name: "token", opts: EmbeddedOptions{Token: token}, auth: config.NATS{Token: token}},
		{name: "nkey", opts: EmbeddedOptions{NKey: pub}, auth: config.NATS{NKeyFile: seedFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.StoreDir, tc.opts.Listen = t.TempDir(), loopbackAddr(t)
			emb, err := StartEmbedded(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer emb.Shutdown()
			if !emb.Authenticated() {
				t.Error("Authenticated is false")
			}
			url := emb.ClientURL()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			if nc, err := nats.Connect(url, nats.Timeout(5*time.Second)); err == nil {
				nc.Close()
				t.Fatal("a client without credentials was admitted")
			} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
				t.Fatalf("refusal: %v", err)
			}
			if _, err := Connect(ctx, ConnectOptions{Config: config.NATS{URL: url, Token: "wrong-" + token}}); err == nil || strings.Contains(err.Error(), token) {
				t.Fatalf("a wrong token: %v", err)
			}
			for _, o := range []ConnectOptions{
				{Config: withURL(tc.auth, url)},  // a command, through the listener
				{Embedded: emb, Config: tc.auth}, // the daemon, in-process
			} {
				nc, err := Connect(ctx, o)
				if err != nil {
					t.Fatalf("with credentials (in-process %v): %v", o.Embedded != nil, err)
				}
				if err := nc.Publish("x", nil); err != nil {
					t.Fatal(err)
				}
				nc.Close()
			}
		})
	}
	if _, err := StartEmbedded(EmbeddedOptions{StoreDir: t.TempDir(), Token: token, NKey: pub}); err == nil || strings.Contains(err.Error(), token) {
		t.Fatalf("a token and an nkey: %v", err)
	}
}

func withURL(n config.NATS, url string) config.NATS {
	n.URL = url
	return n
}
