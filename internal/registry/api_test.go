package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/catalog"
	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/pluginhost"
	"github.com/exportd/exportd/internal/registry"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/nats-io/nats.go/jetstream"
)

// fixture is the API on real parts: an in-process NATS with the registry
// bucket, and a catalog over the real localfs and azblob plugins, whose
// HCL configuration defines destination "static".
type fixture struct {
	t     *testing.T
	js    jetstream.JetStream
	store *registry.Store
	cat   *catalog.Catalog
	srv   *registry.Server
	logs  *testsupport.LogBuffer
}

const fixtureHCL = `
data_dir = "x"
source "sample" {}
destination "localfs" "static" {
  account = "acme"
  path    = "%s"
}
%s
`

func newFixture(t *testing.T, extra string, keys *registry.Keyring) *fixture {
	t.Helper()
	ctx := context.Background()
	conf, diags := config.Parse([]byte(fmt.Sprintf(fixtureHCL, t.TempDir(), extra)), "test.hcl", t.TempDir())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	_, js := testsupport.StartNATS(t).Connect(t)
	store, err := registry.Open(ctx, js, "test", 1)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testsupport.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	host := pluginhost.New(nil, pluginhost.Options{Dir: testsupport.PluginDir(t, "localfs", testsupport.RegFS, "azblob"), Logger: log})
	t.Cleanup(host.Close)
	cat := catalog.New(ctx, host, log)
	staged, diags := cat.Stage(ctx, conf, keys)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	staged.Commit()
	f := &fixture{t: t, js: js, store: store, cat: cat, logs: logs,
		srv: &registry.Server{Store: store, Plugins: cat, Settings: cat.Settings, Log: log}}
	return f
}

// call sends a request of op with body, a value or JSON text.
func (f *fixture) call(op string, body any) registry.Reply {
	f.t.Helper()
	raw, ok := body.(string)
	if !ok {
		b, err := json.Marshal(body)
		if err != nil {
			f.t.Fatal(err)
		}
		raw = string(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return f.srv.Handle(ctx, op, []byte(raw))
}

// put registers a destination whose body is JSON text.
func (f *fixture) put(plugin, name, body string, extra ...string) registry.Reply {
	f.t.Helper()
	fields := append([]string{fmt.Sprintf(`"plugin": %q`, plugin), fmt.Sprintf(`"name": %q`, name), `"destination": ` + body}, extra...)
	return f.call(registry.OpPut, "{"+strings.Join(fields, ", ")+"}")
}

// TestPutDecodesAsHCL: a registration is decoded as a destination block
// of the file is, and refused naming the attribute; nothing refused is
// stored.
func TestPutDecodesAsHCL(t *testing.T) {
	f := newFixture(t, `registry { plugins = ["regfs", "localfs", "azblob"] }`, nil)
	dir := t.TempDir()
	tests := []struct {
		name      string
		plugin    string
		dest      string
		body      string
		code      string
		attribute string
		line, col int
		detail    string
	}{
		{name: "a misspelt attribute", plugin: "regfs", dest: "d1",
			body: `{"account": "acme", "pth": "/tmp"}`, code: registry.CodeInvalid, attribute: "pth", detail: `Did you mean "path"?`},
		{name: "a missing required attribute", plugin: "regfs", dest: "d1",
			body: `{"account": "acme"}`, code: registry.CodeInvalid, detail: `"path" is required`},
		{name: "a value of the wrong type", plugin: "regfs", dest: "d1",
			body: `{"account": "acme", "path": "/tmp", "fsync": "often"}`, code: registry.CodeInvalid, attribute: "fsync"},
		{name: "no account", plugin: "regfs", dest: "d1",
			body: `{"path": "/tmp"}`, code: registry.CodeInvalid, detail: "needs account"},
		{name: "an invalid account", plugin: "regfs", dest: "d1",
			body: `{"account": "a/b", "path": "/tmp"}`, code: registry.CodeInvalid, attribute: "account"},
		{name: "an invalid table", plugin: "regfs", dest: "d1",
			body: `{"account": "acme", "tables": ["../x"], "path": "/tmp"}`, code: registry.CodeInvalid, attribute: "tables"},
		{name: "refused by the plugin's Configure", plugin: "regfs", dest: "d1",
			body: `{"account": "acme", "path": "/tmp", "folder": "../up"}`, code: registry.CodeInvalid, attribute: "folder"},
		{name: "a name of the HCL file", plugin: "regfs", dest: "static",
			body: fmt.Sprintf(`{"account": "acme", "path": %q}`, dir), code: registry.CodeDefinedInHCL},
		{name: "an invalid name", plugin: "regfs", dest: "a.b",
			body: fmt.Sprintf(`{"account": "acme", "path": %q}`, dir), code: registry.CodeBadRequest},
		{name: "an attribute reserved to the operator", plugin: "localfs", dest: "d1",
			body: `{"account": "acme", "path": "/etc"}`, code: registry.CodeInvalid, attribute: "path", detail: "cannot be registered at run time"},
		{name: "a plugin left out by registry { plugins }", plugin: "gcs", dest: "d1",
			body: `{"account": "acme", "bucket": "b"}`, code: registry.CodePluginNotAllowed},
		{name: "a plugin that is not installed", plugin: "nosuch", dest: "d1",
			body: `{"account": "acme"}`, code: registry.CodePluginNotAllowed},
		{name: "not an object", plugin: "regfs", dest: "d1",
			body: `"path=/tmp"`, code: registry.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.put(tt.plugin, tt.dest, tt.body)
			if r.Code != tt.code {
				t.Fatalf("code %q (%s), want %q", r.Code, r.Error, tt.code)
			}
			if r.Attribute != tt.attribute {
				t.Errorf("attribute %q, want %q (%s)", r.Attribute, tt.attribute, r.Error)
			}
			if tt.detail != "" && !strings.Contains(r.Error, tt.detail) {
				t.Errorf("error %q does not say %q", r.Error, tt.detail)
			}
			if _, err := f.store.Get(context.Background(), tt.dest); err == nil {
				t.Errorf("the refused registration was stored")
			}
		})
	}
	// A diagnostic points into the request body.
	req := `{"plugin": "regfs", "name": "d1", "destination": {"account": "acme", "pth": "/tmp"}}`
	r := f.call(registry.OpPut, req)
	if !slices.ContainsFunc(r.Diagnostics, func(d registry.Diagnostic) bool {
		return d.Attribute == "pth" && d.Line == 1 && d.Column == strings.Index(req, `"pth"`)+1
	}) {
		t.Fatalf("diagnostics %+v do not point at the attribute in the request", r.Diagnostics)
	}
}

// TestPutStoresLiteralValues: nothing in a request is evaluated: no
// template, no env() or file() reads the daemon's environment.
func TestPutStoresLiteralValues(t *testing.T) {
	t.Setenv("EXPORTD_TEST_SECRET", "daemon-secret-value")
	f := newFixture(t, "", nil)
	dir := t.TempDir()
	folder := `x${env("EXPORTD_TEST_SECRET")}`
	r := f.put("regfs", "d1", fmt.Sprintf(`{"account": "acme", "path": %q, "mode": "0600", "folder": %q}`, dir, folder))
	if r.Error != "" {
		t.Fatalf("put: %s", r.Error)
	}
	e, err := f.store.Get(context.Background(), "d1")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(e)
	if strings.Contains(string(raw), "daemon-secret-value") || string(e.Attributes["folder"]) != fmt.Sprintf("%q", folder) {
		t.Fatalf("the folder was evaluated: %s", e.Attributes["folder"])
	}
}

// TestSensitiveAttributes: a sensitive attribute is stored sealed, never
// returned and never logged; without a key it is refused, naming it.
func TestSensitiveAttributes(t *testing.T) {
	const sas = "sv=2024-05-04&sp=cw&se=2030-01-01T00%3A00%3A00Z&sr=c&sig=SeCrEtSiGnAtUrE%2Fvalue%3D"
	body := fmt.Sprintf(`{"account": "acme", "storage_account": "acmedumps", "container": "dumps", "sas_token": %q}`, sas)

	nokey := newFixture(t, "", nil)
	r := nokey.put("azblob", "az1", body)
	if r.Code != registry.CodeNoKey || r.Attribute != "sas_token" || !strings.Contains(r.Error, "registry { key_file }") {
		t.Fatalf("without a key: %+v", r)
	}

	line, _ := registry.NewKeyLine("k1")
	keys, _ := registry.ParseKeyring([]byte(line))
	f := newFixture(t, "", keys)
	r = f.put("azblob", "az1", body)
	if r.Error != "" {
		t.Fatalf("put: %s", r.Error)
	}
	if v := r.Destination; v == nil || len(v.Sensitive) != 1 || v.Sensitive[0] != "sas_token" || v.SealedWith[0] != "k1" {
		t.Fatalf("reply %+v", r.Destination)
	}
	// What the bucket holds, what get and list return, what was logged.
	ctx := context.Background()
	kv, err := f.js.KeyValue(ctx, f.store.Bucket())
	if err != nil {
		t.Fatal(err)
	}
	stored, err := kv.Get(ctx, "az1")
	if err != nil {
		t.Fatal(err)
	}
	got := f.call(registry.OpGet, registry.NameRequest{Name: "az1"})
	list := f.call(registry.OpList, registry.ListRequest{})
	gotJSON, _ := json.Marshal(got)
	listJSON, _ := json.Marshal(list)
	for what, text := range map[string]string{"the bucket": string(stored.Value()), "get": string(gotJSON), "list": string(listJSON), "the log": f.logs.String()} {
		if strings.Contains(text, "SeCrEtSiGnAtUrE") {
			t.Errorf("%s shows the SAS token:\n%s", what, text)
		}
	}
	if got.Destination == nil || got.Destination.Attributes["container"] == nil || len(got.Destination.Sensitive) != 1 {
		t.Fatalf("get: %+v", got)
	}
	// The catalog opens it with the key: the destination is usable.
	waitFor(t, func() bool { return len(f.cat.Snapshot("acme").Entries()) == 2 }, f)
}

// TestConditionalWrites: an expected revision makes puts and deletes
// compare-and-set, so that two writers cannot overwrite each other.
func TestConditionalWrites(t *testing.T) {
	f := newFixture(t, "", nil)
	body := fmt.Sprintf(`{"account": "acme", "path": %q}`, t.TempDir())
	r := f.put("regfs", "d1", body, `"revision": 0`)
	if r.Error != "" {
		t.Fatalf("create: %s", r.Error)
	}
	rev := r.Destination.Revision
	if r := f.put("regfs", "d1", body, `"revision": 0`); r.Code != registry.CodeRevisionMismatch {
		t.Fatalf("second create: %+v", r)
	}
	r = f.put("regfs", "d1", body, fmt.Sprintf(`"revision": %d`, rev))
	if r.Error != "" {
		t.Fatalf("update at the current revision: %s", r.Error)
	}
	if r := f.put("regfs", "d1", body, fmt.Sprintf(`"revision": %d`, rev)); r.Code != registry.CodeRevisionMismatch {
		t.Fatalf("update at a stale revision: %+v", r)
	}
	if r := f.call(registry.OpDelete, fmt.Sprintf(`{"name": "d1", "revision": %d}`, rev)); r.Code != registry.CodeRevisionMismatch {
		t.Fatalf("delete at a stale revision: %+v", r)
	}
	if r := f.call(registry.OpDelete, registry.NameRequest{Name: "d1"}); r.Error != "" {
		t.Fatalf("delete: %s", r.Error)
	}
	if r := f.call(registry.OpGet, registry.NameRequest{Name: "d1"}); r.Code != registry.CodeNotFound {
		t.Fatalf("get after delete: %+v", r)
	}
	if r := f.put("nosuch", "d2", body); r.Code != registry.CodeUnknownPlugin {
		t.Fatalf("a plugin that is not installed: %+v", r)
	}
	if r := f.call(registry.OpDelete, registry.NameRequest{Name: "static"}); r.Code != registry.CodeDefinedInHCL {
		t.Fatalf("delete of an HCL destination: %+v", r)
	}
}

// TestListPages: list filters by account and plugin and pages through
// many destinations.
func TestListPages(t *testing.T) {
	f := newFixture(t, "", nil)
	ctx := context.Background()
	for i := range 7 {
		account := "acme"
		if i%2 == 1 {
			account = "globex"
		}
		// Straight into the bucket: what is listed is what is stored.
		if _, err := f.store.Put(ctx, registry.Record{Name: fmt.Sprintf("d%d", i), Plugin: "regfs", Account: account, Enabled: true}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	req := registry.ListRequest{Account: "acme", Limit: 2}
	for pages := 0; ; pages++ {
		r := f.call(registry.OpList, req)
		if r.Error != "" || pages > 5 {
			t.Fatalf("list: %+v", r)
		}
		for _, v := range r.Destinations {
			names = append(names, v.Name)
		}
		if r.Next == "" {
			break
		}
		req.After = r.Next
	}
	if strings.Join(names, ",") != "d0,d2,d4,d6" {
		t.Fatalf("listed %v", names)
	}
}

// TestCheck: check runs the plugin's Check on what is stored, and on the
// file's destinations.
func TestCheck(t *testing.T) {
	f := newFixture(t, "", nil)
	if r := f.put("regfs", "d1", fmt.Sprintf(`{"account": "acme", "path": %q}`, t.TempDir()), `"check": true`); r.Error != "" || !strings.Contains(r.Check, "writable") {
		t.Fatalf("put -check: %+v", r)
	}
	if r := f.call(registry.OpCheck, registry.NameRequest{Name: "d1"}); r.Error != "" || !strings.Contains(r.Check, "writable") {
		t.Fatalf("check: %+v", r)
	}
	if r := f.call(registry.OpCheck, registry.NameRequest{Name: "static"}); r.Error != "" {
		t.Fatalf("check of the file's destination: %+v", r)
	}
	if r := f.call(registry.OpCheck, registry.NameRequest{Name: "nosuch"}); r.Code != registry.CodeNotFound {
		t.Fatalf("check of an unknown destination: %+v", r)
	}
	// A path localfs cannot write: the check refuses the registration.
	if r := f.put("regfs", "d2", `{"account": "acme", "path": "/proc/exportd-test"}`, `"check": true`); r.Error == "" {
		t.Fatalf("put -check of an unwritable path was accepted: %+v", r)
	}
	if _, err := f.store.Get(context.Background(), "d2"); err == nil {
		t.Fatal("a registration whose check failed was stored")
	}
}

// waitFor applies the registry to the fixture's catalog until cond holds.
func waitFor(t *testing.T, cond func() bool, f *fixture) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = f.store.Watch(wctx, func(ch registry.Change) { f.cat.Apply(wctx, ch) }, nil) }()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatal("condition never held")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
