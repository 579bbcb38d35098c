package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/pluginhost"
	"github.com/exportd/exportd/internal/registry"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
)

func parseConfig(t *testing.T, hcl string) *config.Config {
	t.Helper()
	conf, diags := config.Parse([]byte("data_dir = \"x\"\nsource \"sample\" {}\n"+hcl), "test.hcl", t.TempDir())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return conf
}

// newCatalog returns a catalog over the real localfs plugin, in force
// with the configuration hcl.
func newCatalog(t *testing.T, hcl string) *Catalog {
	t.Helper()
	host := pluginhost.New(nil, pluginhost.Options{Dir: testsupport.PluginDir(t, "localfs", testsupport.RegFS)})
	t.Cleanup(host.Close)
	c := New(context.Background(), host, nil)
	staged, diags := c.Stage(context.Background(), parseConfig(t, hcl), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	staged.Commit()
	return c
}

// localfsEntry is a registered destination of the regfs test plugin
// (localfs, registrable) writing into dir.
func localfsEntry(name, account, dir string, rev uint64) registry.Entry {
	path, _ := json.Marshal(dir)
	return registry.Entry{Revision: rev, Record: registry.Record{
		Name: name, Plugin: testsupport.RegFS, Account: account, Enabled: true,
		Attributes: map[string]json.RawMessage{"path": path},
	}}
}

// where asks a destination's plugin instance which directory it writes to
// (localfs's check names it).
func where(t *testing.T, d sdk.Destination) string {
	t.Helper()
	msg, err := d.Check(context.Background())
	if err != nil {
		return "error: " + err.Error()
	}
	return strings.TrimSuffix(strings.TrimPrefix(msg, "directory "), " is writable")
}

func open(t *testing.T, s *Snapshot, name string) sdk.Destination {
	t.Helper()
	for _, e := range s.Entries() {
		if e.Name == name {
			d, err := e.Open(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
	}
	t.Fatalf("%s is not in the snapshot", name)
	return nil
}

// eventually waits until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSnapshotKeepsItsConfiguration: an export's snapshot keeps the
// configuration it was taken with, in the plugin too, while new exports
// see the change; the old instance leaves the plugin when the last
// snapshot holding it is released.
func TestSnapshotKeepsItsConfiguration(t *testing.T) {
	ctx := context.Background()
	c := newCatalog(t, "")
	a, b := t.TempDir(), t.TempDir()
	c.Apply(ctx, registry.Change{Name: "d1", Entry: localfsEntry("d1", "acme", a, 1)})
	old := c.Snapshot("acme")
	d1 := open(t, old, "d1")

	c.Apply(ctx, registry.Change{Name: "d1", Entry: localfsEntry("d1", "acme", b, 2)})
	fresh := c.Snapshot("acme")
	d2 := open(t, fresh, "d1")
	if got := where(t, d2); got != b {
		t.Fatalf("a snapshot after the change writes to %s, want %s", got, b)
	}
	if got := where(t, d1); got != a {
		t.Fatalf("the snapshot taken before the change now writes to %s, want %s", got, a)
	}
	old.Release()
	eventually(t, "the replaced instance is removed", func() bool { return strings.HasPrefix(where(t, d1), "error: ") })
	if got := where(t, d2); got != b {
		t.Fatalf("releasing the old snapshot broke the new one: %s", got)
	}

	c.Apply(ctx, registry.Change{Name: "d1", Removed: true})
	if n := len(c.Snapshot("acme").Entries()); n != 0 {
		t.Fatalf("a removed destination is still in new snapshots (%d)", n)
	}
	if got := where(t, d2); got != b {
		t.Fatalf("the removal broke an export in flight: %s", got)
	}
	fresh.Release()
	eventually(t, "the removed instance is removed", func() bool { return strings.HasPrefix(where(t, d2), "error: ") })
}

// TestSnapshotsSelectTheAccount: a snapshot holds the account's enabled
// destinations, from the file and the registry, the file's winning a
// name both define.
func TestSnapshotsSelectTheAccount(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := newCatalog(t, fmt.Sprintf(`
destination "localfs" "file" {
  account = "acme"
  path    = %q
}
destination "localfs" "off" {
  account = "acme"
  enabled = false
  path    = %q
}`, dir, dir))
	c.Apply(ctx, registry.Change{Name: "reg", Entry: localfsEntry("reg", "acme", t.TempDir(), 1)})
	c.Apply(ctx, registry.Change{Name: "other", Entry: localfsEntry("other", "globex", t.TempDir(), 2)})
	c.Apply(ctx, registry.Change{Name: "file", Entry: localfsEntry("file", "globex", t.TempDir(), 3)})
	var names []string
	s := c.Snapshot("acme")
	defer s.Release()
	for _, e := range s.Entries() {
		names = append(names, e.Name+"/"+e.Origin)
	}
	if got := strings.Join(names, ","); got != "file/hcl,reg/registry" {
		t.Fatalf("snapshot of acme: %s", got)
	}
	if n := len(c.Snapshot("globex").Entries()); n != 1 {
		t.Fatalf("globex has %d destinations, want 1 (its registration named like a file destination is ignored)", n)
	}
}

// TestUnusableRegistration: a registration the daemon cannot decode (its
// sensitive values sealed with a key it lacks) stays in its account's
// snapshots and says why it cannot be used.
func TestUnusableRegistration(t *testing.T) {
	ctx := context.Background()
	c := newCatalog(t, "")
	e := localfsEntry("d1", "acme", t.TempDir(), 1)
	e.Sealed = map[string]registry.Sealed{"mode": {Key: "k1", Data: []byte("x")}}
	c.Apply(ctx, registry.Change{Name: "d1", Entry: e})
	s := c.Snapshot("acme")
	defer s.Release()
	if len(s.Entries()) != 1 {
		t.Fatal("the registration is not in the snapshot")
	}
	_, err := s.Entries()[0].Open(ctx)
	if sdk.KindOf(err) != sdk.KindConfiguration || !strings.Contains(err.Error(), "no registry key") {
		t.Fatalf("open: %v", err)
	}
}

// TestStageReusesWhatDidNotChange: a reload configures again only the
// destinations that changed, and says which were added, changed and
// removed.
func TestStageReusesWhatDidNotChange(t *testing.T) {
	ctx := context.Background()
	a, b := t.TempDir(), t.TempDir()
	dest := func(name, path string) string {
		return fmt.Sprintf("destination \"localfs\" %q {\n  account = \"acme\"\n  path = %q\n}\n", name, path)
	}
	c := newCatalog(t, dest("keep", a)+dest("change", a)+dest("drop", a))
	before := c.Snapshot("acme")
	defer before.Release()
	staged, diags := c.Stage(ctx, parseConfig(t, dest("keep", a)+dest("change", b)+dest("add", b)), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	got := fmt.Sprint(staged.Added, staged.Changed, staged.Removed)
	if got != "[add] [change] [drop]" {
		t.Fatalf("added, changed, removed: %s", got)
	}
	staged.Commit()
	after := c.Snapshot("acme")
	defer after.Release()
	entries := map[string]*Entry{}
	for _, e := range after.Entries() {
		entries[e.Name] = e
	}
	for _, e := range before.Entries() {
		if e.Name == "keep" && entries["keep"] != e {
			t.Error("the unchanged destination was configured again")
		}
		if e.Name == "change" && entries["change"] == e {
			t.Error("the changed destination kept its old configuration")
		}
	}
	if where(t, open(t, after, "change")) != b || where(t, open(t, before, "change")) != a {
		t.Fatal("the changed destination's snapshots do not each keep their configuration")
	}

	// A destination of the file named like a registered one is refused.
	c.Apply(ctx, registry.Change{Name: "reg", Entry: localfsEntry("reg", "acme", b, 1)})
	_, diags = c.Stage(ctx, parseConfig(t, dest("reg", a)), nil)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "registered at run time too") {
		t.Fatalf("a file destination named like a registered one: %v", diags)
	}
}

// TestReplicasApplyLive: every replica watching the registry applies a
// registration, a change and a removal, without a restart.
func TestReplicasApplyLive(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, js := testsupport.StartNATS(t).Connect(t)
	store, err := registry.Open(ctx, js, "test", 1)
	if err != nil {
		t.Fatal(err)
	}
	replicas := []*Catalog{newCatalog(t, ""), newCatalog(t, "")}
	for _, c := range replicas {
		ready := make(chan struct{})
		go func() { _ = store.Watch(ctx, func(ch registry.Change) { c.Apply(ctx, ch) }, func() { close(ready) }) }()
		<-ready
	}
	paths := func(c *Catalog) string {
		s := c.Snapshot("acme")
		defer s.Release()
		var out []string
		for _, e := range s.Entries() {
			d, err := e.Open(ctx)
			if err != nil {
				return err.Error()
			}
			out = append(out, e.Name+"="+where(t, d))
		}
		return strings.Join(out, ",")
	}
	a, b := t.TempDir(), t.TempDir()
	for _, step := range []struct {
		name  string
		write func() error
		want  string
	}{
		{"registered", func() error { _, err := store.Put(ctx, localfsEntry("d1", "acme", a, 0).Record, nil); return err }, "d1=" + a},
		{"changed", func() error { _, err := store.Put(ctx, localfsEntry("d1", "acme", b, 0).Record, nil); return err }, "d1=" + b},
		{"removed", func() error { return store.Delete(ctx, "d1", nil) }, ""},
	} {
		if err := step.write(); err != nil {
			t.Fatal(err)
		}
		for i, c := range replicas {
			eventually(t, fmt.Sprintf("replica %d sees the destination %s", i, step.name), func() bool { return paths(c) == step.want })
		}
	}
}

// TestIdleRegistrationsLeaveThePlugin: a registered destination no export
// used for a while is removed from its plugin, and configured again at its
// next use; one in use is never removed.
func TestIdleRegistrationsLeaveThePlugin(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := newCatalog(t, "")
	dir := t.TempDir()
	c.Apply(ctx, registry.Change{Name: "d1", Entry: localfsEntry("d1", "acme", dir, 1)})
	held := c.Snapshot("acme")
	inUse := open(t, held, "d1")
	go c.EvictIdle(ctx, 50*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	if got := where(t, inUse); got != dir {
		t.Fatalf("a destination in use was removed: %s", got)
	}
	held.Release()
	eventually(t, "the idle destination is removed", func() bool { return strings.HasPrefix(where(t, inUse), "error: ") })
	again := c.Snapshot("acme")
	defer again.Release()
	if got := where(t, open(t, again, "d1")); got != dir {
		t.Fatalf("configured again: %s", got)
	}
}

// TestPluginPermissionFollowsTheConfiguration: registrations of a plugin
// that registry { plugins } no longer allows stop being used after a
// reload, and come back when it allows it again.
func TestPluginPermissionFollowsTheConfiguration(t *testing.T) {
	ctx := context.Background()
	c := newCatalog(t, `registry { plugins = ["regfs"] }`)
	c.Apply(ctx, registry.Change{Name: "d1", Entry: localfsEntry("d1", "acme", t.TempDir(), 1)})
	usable := func() error {
		s := c.Snapshot("acme")
		defer s.Release()
		_, err := s.Entries()[0].Open(ctx)
		return err
	}
	for _, step := range []struct {
		hcl  string
		want string
	}{
		{`registry { plugins = ["s3legacy"] }`, "may not be used by registered destinations"},
		{`registry { plugins = ["regfs"] }`, ""},
	} {
		staged, diags := c.Stage(ctx, parseConfig(t, step.hcl), nil)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		staged.Commit()
		c.Redecode(ctx)
		err := usable()
		if (step.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), step.want)) {
			t.Fatalf("with %s: %v", step.hcl, err)
		}
	}
}
