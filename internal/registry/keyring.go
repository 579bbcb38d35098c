package registry

import (
	"bufio"
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// ErrNoKey is returned when a sensitive attribute is to be sealed or
// opened and the daemon has no key for it.
var ErrNoKey = errors.New("no registry key")

// ErrKeyFilePermissions is returned when the key file may be read or
// written by users other than its owner.
var ErrKeyFilePermissions = errors.New("registry key file is accessible to group or others")

// Keyring holds the keys that seal registered destinations' sensitive
// attributes: XChaCha20-Poly1305 with a random 192-bit nonce per value.
// The first key of the file seals; every key opens, so that keys can be
// rotated: put the new key first, keep the old ones until nothing is
// sealed with them any more. A Keyring is immutable and safe for
// concurrent use.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

// Sealed is a sensitive attribute's value, encrypted. Data is the nonce
// followed by the ciphertext; the associated data binds it to the
// destination and the attribute, so that it cannot be moved to another.
type Sealed struct {
	// Key is the id of the key that sealed it.
	Key  string `json:"key"`
	Data []byte `json:"data"`
}

var keyID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// LoadKeyring reads a key file: one key per line, its id and its 32 bytes
// in standard base64, separated by white space; blank lines and lines
// starting with # are ignored. The file must be a regular file that
// neither group nor others may read or write. Errors never quote a key.
func LoadKeyring(path string) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open registry key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat registry key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("registry key file %s is not a regular file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v; run chmod 600 %s", ErrKeyFilePermissions, path, st.Mode().Perm(), path)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, fmt.Errorf("read registry key file: %w", err)
	}
	k, err := ParseKeyring(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("registry key file %s: %w", path, err)
	}
	return k, nil
}

// ParseKeyring reads keys in the key file's format (see LoadKeyring).
func ParseKeyring(data []byte) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("line %d: want a key id and a base64 key", n)
		}
		id := fields[0]
		if !keyID.MatchString(id) {
			return nil, fmt.Errorf("line %d: key id %q: use letters, digits, _ and -, at most 32", n, id)
		}
		if _, dup := k.aeads[id]; dup {
			return nil, fmt.Errorf("line %d: key id %q appears twice", n, id)
		}
		raw, err := base64.StdEncoding.DecodeString(fields[1])
		if err != nil || len(raw) != chacha20poly1305.KeySize {
			return nil, fmt.Errorf("line %d: key %q is not %d bytes in base64", n, id, chacha20poly1305.KeySize)
		}
		aead, err := chacha20poly1305.NewX(raw)
		if err != nil {
			return nil, fmt.Errorf("line %d: key %q: %w", n, id, err)
		}
		k.aeads[id] = aead
		if k.current == "" {
			k.current = id
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if k.current == "" {
		return nil, errors.New("no key in it")
	}
	return k, nil
}

// NewKeyLine returns a key file line with a fresh random key.
func NewKeyLine(id string) (string, error) {
	if !keyID.MatchString(id) {
		return "", fmt.Errorf("key id %q: use letters, digits, _ and -, at most 32", id)
	}
	raw := make([]byte, chacha20poly1305.KeySize)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	return id + " " + base64.StdEncoding.EncodeToString(raw), nil
}

// Current is the id of the key that seals; empty for a nil Keyring.
func (k *Keyring) Current() string {
	if k == nil {
		return ""
	}
	return k.current
}

// Has reports whether the keyring holds the key id.
func (k *Keyring) Has(id string) bool {
	if k == nil {
		return false
	}
	_, ok := k.aeads[id]
	return ok
}

// additionalData binds a sealed value to its destination and attribute.
func additionalData(destination, attribute string) []byte {
	return []byte("exportd registry v1\x00" + destination + "\x00" + attribute)
}

// Seal encrypts the value of a destination's attribute with the current
// key. A nil Keyring returns ErrNoKey.
func (k *Keyring) Seal(destination, attribute string, value []byte) (Sealed, error) {
	if k == nil {
		return Sealed{}, ErrNoKey
	}
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(value)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return Sealed{}, fmt.Errorf("seal %s of %s: %w", attribute, destination, err)
	}
	return Sealed{Key: k.current, Data: aead.Seal(nonce, nonce, value, additionalData(destination, attribute))}, nil
}

// Open decrypts a value sealed for a destination's attribute. It fails
// when the key is unknown, or when the value was altered or sealed for
// another destination or attribute.
func (k *Keyring) Open(destination, attribute string, s Sealed) ([]byte, error) {
	aead, ok := k.aead(s.Key)
	if !ok {
		return nil, fmt.Errorf("open %s of %s: %w with id %q", attribute, destination, ErrNoKey, s.Key)
	}
	n := aead.NonceSize()
	if len(s.Data) < n+aead.Overhead() {
		return nil, fmt.Errorf("open %s of %s: sealed value is too short", attribute, destination)
	}
	v, err := aead.Open(nil, s.Data[:n], s.Data[n:], additionalData(destination, attribute))
	if err != nil {
		return nil, fmt.Errorf("open %s of %s: the sealed value was altered or belongs to another destination", attribute, destination)
	}
	return v, nil
}

func (k *Keyring) aead(id string) (cipher.AEAD, bool) {
	if k == nil {
		return nil, false
	}
	a, ok := k.aeads[id]
	return a, ok
}
