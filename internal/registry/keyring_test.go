package registry

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustKeyring(t *testing.T, lines ...string) *Keyring {
	t.Helper()
	k, err := ParseKeyring([]byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newKeyLine(t *testing.T, id string) string {
	t.Helper()
	l, err := NewKeyLine(id)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestSealBindsDestinationAndAttribute: a sealed value opens only for the
// destination and attribute it was sealed for, and not once altered.
func TestSealBindsDestinationAndAttribute(t *testing.T) {
	k := mustKeyring(t, newKeyLine(t, "k1"))
	secret := []byte(`"sv=2022&sig=TOPSECRET"`)
	s, err := k.Seal("acme", "sas_token", secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(s.Data, []byte("TOPSECRET")) || s.Key != "k1" {
		t.Fatalf("sealed value %+v shows the secret or names the wrong key", s)
	}
	if got, err := k.Open("acme", "sas_token", s); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open: %q, %v", got, err)
	}
	tampered := Sealed{Key: s.Key, Data: bytes.Clone(s.Data)}
	tampered.Data[len(tampered.Data)-1] ^= 1
	tests := []struct {
		name              string
		destination, attr string
		sealed            Sealed
	}{
		{name: "another destination", destination: "globex", attr: "sas_token", sealed: s},
		{name: "another attribute", destination: "acme", attr: "client_secret", sealed: s},
		{name: "altered", destination: "acme", attr: "sas_token", sealed: tampered},
		{name: "unknown key", destination: "acme", attr: "sas_token", sealed: Sealed{Key: "k9", Data: s.Data}},
		{name: "truncated", destination: "acme", attr: "sas_token", sealed: Sealed{Key: s.Key, Data: s.Data[:10]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v, err := k.Open(tt.destination, tt.attr, tt.sealed); err == nil {
				t.Fatalf("opened %q", v)
			} else if strings.Contains(err.Error(), "TOPSECRET") {
				t.Fatalf("error shows the secret: %v", err)
			}
		})
	}
	// Two seals of one value differ (random nonces).
	s2, _ := k.Seal("acme", "sas_token", secret)
	if bytes.Equal(s.Data, s2.Data) {
		t.Fatal("two seals of one value are equal")
	}
}

// TestKeyRotation: the first key seals; older keys still open what they
// sealed.
func TestKeyRotation(t *testing.T) {
	old := newKeyLine(t, "old")
	k1 := mustKeyring(t, old)
	s, err := k1.Seal("acme", "sas_token", []byte(`"x1234"`))
	if err != nil {
		t.Fatal(err)
	}
	k2 := mustKeyring(t, "# rotated", newKeyLine(t, "new"), "", old)
	if k2.Current() != "new" {
		t.Fatalf("current key %q, want the first line's", k2.Current())
	}
	if v, err := k2.Open("acme", "sas_token", s); err != nil || string(v) != `"x1234"` {
		t.Fatalf("the old key no longer opens: %q, %v", v, err)
	}
	s2, _ := k2.Seal("acme", "sas_token", []byte(`"x1234"`))
	if s2.Key != "new" {
		t.Fatalf("sealed with %q, want the new key", s2.Key)
	}
	if _, err := k1.Open("acme", "sas_token", s2); !errors.Is(err, ErrNoKey) {
		t.Fatalf("a keyring without the new key opened its value: %v", err)
	}
	var none *Keyring
	if _, err := none.Seal("acme", "sas_token", []byte("x")); !errors.Is(err, ErrNoKey) {
		t.Fatalf("seal without keys: %v", err)
	}
}

func TestKeyFile(t *testing.T) {
	line := newKeyLine(t, "k1")
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    string // part of the error; empty: loads
	}{
		{name: "private", content: line + "\n", mode: 0o600},
		{name: "readable by the group", content: line, mode: 0o640, want: "chmod 600"},
		{name: "readable by others", content: line, mode: 0o604, want: "accessible to group or others"},
		{name: "empty", content: "# nothing\n", mode: 0o600, want: "no key"},
		{name: "short key", content: "k1 c2hvcnQ=", mode: 0o600, want: "not 32 bytes"},
		{name: "duplicate id", content: line + "\n" + line, mode: 0o600, want: "twice"},
		{name: "bad id", content: "k/1 " + strings.Fields(line)[1], mode: 0o600, want: "key id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "registry.key")
			if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tt.mode); err != nil {
				t.Fatal(err)
			}
			k, err := LoadKeyring(p)
			if tt.want == "" {
				if err != nil || k.Current() != "k1" {
					t.Fatalf("load: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), strings.Fields(line)[1]) {
				t.Fatalf("error shows the key: %v", err)
			}
		})
	}
}
