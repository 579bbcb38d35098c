package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// writePEM writes one PEM block to dir/name and returns its path.
func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// testCA makes a CA and a server certificate for 127.0.0.1.
func testCA(t *testing.T, dir string) (caFile string, serverCert tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "exportd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	serverCert, err = tls.X509KeyPair(
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER), serverCert
}

// TestExternalNATSWithTLSAndNKey: the daemon reaches an external NATS
// server over TLS (verifying it against a CA file) with an nkey, and a
// wrong nkey stops it at startup with a clear error.
func TestExternalNATSWithTLSAndNKey(t *testing.T) {
	dir := t.TempDir()
	caFile, serverCert := testCA(t, dir)
	user, _ := nkeys.CreateUser()
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	seedFile := filepath.Join(dir, "exportd.nk")
	os.WriteFile(seedFile, seed, 0o600)

	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
		TLS:       true,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12},
		Nkeys:     []*server.NkeyUser{{Nkey: pub}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(srv.Shutdown)
	url := fmt.Sprintf("tls://127.0.0.1:%d", srv.Addr().(*net.TCPAddr).Port)

	out := t.TempDir()
	config := func(nkeyFile string) string {
		return writeConfig(t, fmt.Sprintf(`
data_dir   = %q
plugin_dir = %q
nats {
  url       = %q
  nkey_file = %q
  tls { ca_file = %q }
}
http { listen = "" }
source "sample" { rows = { events = 100 } }
destination "localfs" "d" {
  account = "acme"
  path    = %q
}
`, t.TempDir(), testsupport.PluginDir(t, "localfs"), url, nkeyFile, caFile, out))
	}

	// A key the server does not know: refused at startup.
	stranger, _ := nkeys.CreateUser()
	strangerSeed, _ := stranger.Seed()
	strangerFile := filepath.Join(dir, "stranger.nk")
	os.WriteFile(strangerFile, strangerSeed, 0o600)
	text, code := runExportd(t, "run", "-config", config(strangerFile))
	if code != 1 || !strings.Contains(strings.ToLower(text), "authorization") {
		t.Fatalf("a wrong nkey: exit %d:\n%s", code, text)
	}

	d := startDaemon(t, config(seedFile))
	d.waitLog(t, "exportd running", time.Minute)
	opt, err := nats.NkeyOptionFromSeed(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, opt, nats.RootCAs(caFile))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	publish(t, js, event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC()})
	waitFile(t, filepath.Join(out, "receipt.json"), time.Minute)
}

// embeddedConfig is a daemon on an embedded NATS server listening on
// listen, with the nats block's extra lines, exporting account acme to out.
func embeddedConfig(t *testing.T, listen, extra, out string) string {
	return writeConfig(t, fmt.Sprintf(`
data_dir   = %q
plugin_dir = %q
nats {
  listen = %q
%s
}
http { listen = "" }
source "sample" { rows = { events = 100 } }
destination "localfs" "d" {
  account = "acme"
  path    = %q
}
`, t.TempDir(), testsupport.PluginDir(t, "localfs"), listen, extra, out))
}

// refused fails the test unless a client without credentials is refused
// by the NATS server at url.
func refused(t *testing.T, url string) {
	t.Helper()
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err == nil {
		nc.Close()
		t.Fatal("a client without credentials was admitted")
	}
	if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("refusal: %v", err)
	}
}

// TestNATSAuthEmbeddedToken: with a token, the embedded server's listener
// refuses clients without it, while publish, export and reexport, given the
// same configuration, sign in with it; a wrong token is a clear error; the
// token appears in no output.
func TestNATSAuthEmbeddedToken(t *testing.T) {
	const token = "exportd-test-token-81f3c2d4"
	t.Setenv("EXPORTD_TEST_NATS_TOKEN", token)
	listen, out := freePort(t), t.TempDir()
	cfg := embeddedConfig(t, listen, `  token = env("EXPORTD_TEST_NATS_TOKEN")`, out)
	d := startDaemon(t, cfg)
	d.waitLog(t, "exportd running", time.Minute)
	refused(t, "nats://"+listen)

	var outputs []string
	run := func(args ...string) {
		t.Helper()
		text, code := runExportd(t, args...)
		outputs = append(outputs, text)
		if code != 0 {
			t.Fatalf("exportd %s exited %d:\n%s", strings.Join(args, " "), code, text)
		}
	}
	run("publish", "-config", cfg, "-account", "acme", "-run-id", "run-1")
	waitFile(t, filepath.Join(out, "receipt.json"), time.Minute)
	run("reexport", "-config", cfg, "-account", "acme", "-wait", "-timeout", "2m")
	run("export", "-config", cfg, "-account", "acme")

	// The same configuration with another token: refused, and said so.
	t.Setenv("EXPORTD_TEST_NATS_TOKEN", "wrong-"+token)
	text, code := runExportd(t, "publish", "-config", cfg, "-account", "acme", "-run-id", "run-2")
	if code != 1 || !strings.Contains(strings.ToLower(text), "authorization") {
		t.Fatalf("publish with a wrong token exited %d:\n%s", code, text)
	}
	outputs = append(outputs, text)

	d.stop(t)
	outputs = append(outputs, d.out.String())
	for _, o := range outputs {
		if strings.Contains(o, token) {
			t.Fatalf("the token appears in the output:\n%s", o)
		}
	}
	if strings.Contains(d.out.String(), "without authentication") {
		t.Fatalf("the daemon warned of a listener without authentication:\n%s", d.out)
	}
}

// TestNATSAuthEmbeddedNKey: with nkey_file, the embedded server admits only
// that key; publish, given the same configuration, signs in with it.
func TestNATSAuthEmbeddedNKey(t *testing.T) {
	user, _ := nkeys.CreateUser()
	seed, _ := user.Seed()
	seedFile := filepath.Join(t.TempDir(), "exportd.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	listen, out := freePort(t), t.TempDir()
	cfg := embeddedConfig(t, listen, fmt.Sprintf("  nkey_file = %q", seedFile), out)
	d := startDaemon(t, cfg)
	d.waitLog(t, "exportd running", time.Minute)
	refused(t, "nats://"+listen)
	text, code := runExportd(t, "publish", "-config", cfg, "-account", "acme", "-run-id", "run-1")
	if code != 0 {
		t.Fatalf("publish exited %d:\n%s", code, text)
	}
	waitFile(t, filepath.Join(out, "receipt.json"), time.Minute)
	d.stop(t)
	if strings.Contains(d.out.String(), string(seed)) || strings.Contains(text, string(seed)) {
		t.Fatal("the seed appears in the output")
	}
}

// TestNATSAuthWarning: an embedded server that listens without a token or
// an nkey works, and the daemon warns that it does.
func TestNATSAuthWarning(t *testing.T) {
	listen, out := freePort(t), t.TempDir()
	cfg := embeddedConfig(t, listen, "", out)
	d := startDaemon(t, cfg)
	d.waitLog(t, "exportd running", time.Minute)
	d.waitLog(t, "embedded NATS listens without authentication", time.Second)
	nc, err := nats.Connect("nats://" + listen)
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}
