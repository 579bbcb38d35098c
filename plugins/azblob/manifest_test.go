package azblob

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// TestManifest: with manifest = true and the customer guide's SAS (create
// and write only), each dump gets _manifest.json describing the blobs
// stored, and a recommit writes the same manifest again.
func TestManifest(t *testing.T) {
	a := testsupport.StartAzurite(t)
	c := a.NewContainer(t)
	d, err := configure(t, config(a, c, a.SAS(t, c, writeOnly, time.Now().Add(time.Hour), testsupport.AzuriteKey), map[string]any{"manifest": true}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	dm := newDump(t, exportTime(), map[string]int{"companies": 2, "events": 3})
	dm.Info.ExporterVersion = "1.2.3"
	exp, err := d.Begin(ctx, dm.Info)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range dm.Files() {
		if err := exp.Put(ctx, f.File); err != nil {
			t.Fatal(err)
		}
	}
	rc, err := exp.Commit(ctx, dm.Manifest())
	if err != nil {
		t.Fatal(err)
	}
	if want := d.layout.NewReceipt(dm.Info.Time, dm.Manifest()).Marshal(); !bytes.Equal(rc.Body, want) {
		t.Fatalf("the receipt changed with a manifest:\n%s", rc.Body)
	}
	key := d.layout.ManifestKey(dm.Info.Time)
	body, err := a.Blob(ctx, c, key)
	if err != nil {
		t.Fatal(err)
	}
	man, err := legacylayout.ParseManifest(body)
	if err != nil || man.ExporterVersion != "1.2.3" || len(man.Tables) != 2 {
		t.Fatalf("%+v %v", man, err)
	}
	for _, mt := range man.Tables {
		for _, f := range mt.Files {
			data, err := a.Blob(ctx, c, f.Key)
			sum := sha256.Sum256(data)
			if err != nil || int64(len(data)) != f.Size || hex.EncodeToString(sum[:]) != f.SHA256 {
				t.Fatalf("%+v does not describe the blob stored (%v)", f, err)
			}
		}
	}
	info := dm.Info
	info.Recommit = true
	again, err := d.Begin(ctx, info)
	if err != nil {
		t.Fatal(err)
	}
	if rc2, err := again.Commit(ctx, dm.Manifest()); err != nil || !bytes.Equal(rc2.Body, rc.Body) {
		t.Fatalf("recommit: %v", err)
	}
	if got, _ := a.Blob(ctx, c, key); !bytes.Equal(got, body) {
		t.Fatal("the recommit changed the manifest")
	}
}
