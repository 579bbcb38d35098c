package registry

import (
	"context"
	"testing"

	"github.com/exportd/exportd/internal/testsupport"
)

// TestReseal: after a new key is put first, resealing leaves every value
// sealed with it, openable without the old key, and the values unchanged.
func TestReseal(t *testing.T) {
	ctx := context.Background()
	_, js := testsupport.StartNATS(t).Connect(t)
	store, err := Open(ctx, js, "test", 1)
	if err != nil {
		t.Fatal(err)
	}
	oldLine, newLine := newKeyLine(t, "old"), newKeyLine(t, "new")
	old := mustKeyring(t, oldLine)
	for _, name := range []string{"d1", "d2"} {
		s, err := old.Seal(name, "sas_token", []byte(`"secret-of-`+name+`"`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Put(ctx, Record{Name: name, Plugin: "azblob", Account: "a", Sealed: map[string]Sealed{"sas_token": s}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	rotated := mustKeyring(t, newLine, oldLine)
	n, err := Reseal(ctx, store, rotated)
	if err != nil || n != 2 {
		t.Fatalf("resealed %d, %v", n, err)
	}
	if n, err := Reseal(ctx, store, rotated); err != nil || n != 0 {
		t.Fatalf("a second reseal rewrote %d, %v", n, err)
	}
	onlyNew := mustKeyring(t, newLine)
	for _, name := range []string{"d1", "d2"} {
		e, err := store.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		s := e.Sealed["sas_token"]
		v, err := onlyNew.Open(name, "sas_token", s)
		if s.Key != "new" || err != nil || string(v) != `"secret-of-`+name+`"` {
			t.Fatalf("%s: key %s, %q, %v", name, s.Key, v, err)
		}
	}
}
