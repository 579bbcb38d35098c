// Package catalog is the daemon's live list of destinations: those of the
// HCL configuration, replaced as a whole on reload, and those registered
// at run time, changed one by one as the registry's watch reports. It
// hands each export a snapshot of an account's destinations, which keeps
// the configuration the export began with whatever changes meanwhile,
// and it configures destinations in their plugins and removes them there
// once no export uses them.
//
// It knows the configuration's and the registry's shape and the plugin
// host; it knows nothing of exports, NATS or sources.
package catalog

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/pluginhost"
	"github.com/exportd/exportd/internal/registry"
	"github.com/exportd/exportd/sdk"
)

// Where a destination is defined.
const (
	FromHCL      = "hcl"
	FromRegistry = "registry"
)

// Catalog is the live list of destinations. Its methods are safe for
// concurrent use.
//
// Lock order: Entry.openMu, then Catalog.mu, then Entry.mu. Nothing
// waits on a plugin while holding Catalog.mu or Entry.mu.
type Catalog struct {
	host *pluginhost.Host
	log  *slog.Logger
	// ctx bounds the removals of retired destinations from their plugins,
	// which happen in the background when the last export using them
	// ends.
	ctx context.Context

	mu         sync.Mutex
	conf       *config.Config
	keys       *registry.Keyring
	static     map[string]*Entry
	registered map[string]*Entry
}

// Entry is one destination as configured at one moment. A changed
// destination is a new Entry; the old one lives on for the exports that
// use it.
type Entry struct {
	Name    string
	Plugin  string
	Account string
	// Tables is the destination's subset of the tables; empty means all.
	Tables  []string
	Enabled bool
	Origin  string
	// Revision is the registry's revision of a registered destination.
	Revision uint64

	cfg     sdk.Config
	schema  sdk.Schema
	secrets []string
	// err makes a registered destination that could not be decoded (its
	// plugin missing, a key missing) fail every export with it.
	err error
	// record is a registered destination's record, for decoding it again.
	record registry.Entry

	c *Catalog
	// openMu serialises configuring the entry in its plugin.
	openMu  sync.Mutex
	mu      sync.Mutex
	refs    int
	retired bool
	dest    *pluginhost.Destination
	// used is when a snapshot last held the entry.
	used time.Time
}

// New returns an empty catalog over the plugins of host. ctx bounds the
// catalog's background work (removing retired destinations from their
// plugins).
func New(ctx context.Context, host *pluginhost.Host, log *slog.Logger) *Catalog {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Catalog{host: host, log: log, ctx: ctx, static: map[string]*Entry{}, registered: map[string]*Entry{}}
}

// Settings returns the configuration and registry keys in force.
func (c *Catalog) Settings() (*config.Config, *registry.Keyring) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conf, c.keys
}

// Static reports whether the HCL configuration defines the name.
func (c *Catalog) Static(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.static[name]
	return ok
}

// Names lists every destination, enabled or not, sorted.
func (c *Catalog) Names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.static)+len(c.registered))
	for n := range c.static {
		out = append(out, n)
	}
	for n := range c.registered {
		if _, dup := c.static[n]; !dup {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// StaticEntries returns the HCL configuration's destinations, sorted.
func (c *Catalog) StaticEntries() []*Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Entry, 0, len(c.static))
	for _, e := range c.static {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *Entry) int { return compare(a.Name, b.Name) })
	return out
}

// Snapshot returns the enabled destinations of an account as they are
// configured now. They stay configured as they are until Release, however
// the catalog changes.
func (c *Catalog) Snapshot(account string) *Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &Snapshot{}
	add := func(e *Entry) {
		if e.Enabled && e.Account == account {
			e.mu.Lock()
			e.refs++
			e.mu.Unlock()
			s.entries = append(s.entries, e)
		}
	}
	for _, e := range c.static {
		add(e)
	}
	for n, e := range c.registered {
		if _, dup := c.static[n]; !dup {
			add(e)
		}
	}
	slices.SortFunc(s.entries, func(a, b *Entry) int { return compare(a.Name, b.Name) })
	return s
}

// Snapshot is an account's destinations as an export found them.
type Snapshot struct {
	entries []*Entry
	once    sync.Once
}

// Entries returns the destinations, sorted by name.
func (s *Snapshot) Entries() []*Entry { return s.entries }

// Release lets the catalog remove the snapshot's destinations that were
// changed or removed meanwhile. It is safe to call more than once.
func (s *Snapshot) Release() {
	s.once.Do(func() {
		for _, e := range s.entries {
			e.release()
		}
	})
}

func (e *Entry) release() {
	e.mu.Lock()
	e.refs--
	e.used = time.Now()
	idle := e.refs == 0 && e.retired
	e.mu.Unlock()
	if idle {
		e.c.remove(e)
	}
}

// Describe renders the destination's configuration for people: secrets
// redacted, the plugin's defaults marked.
func (e *Entry) Describe() string {
	if e.err != nil {
		return e.err.Error()
	}
	return config.Redact(e.schema, e.cfg)
}

// Open returns the destination configured in its plugin, configuring it
// at first use. A registered destination that could not be decoded
// returns its configuration error.
func (e *Entry) Open(ctx context.Context) (sdk.Destination, error) {
	if e.err != nil {
		return nil, e.err
	}
	// openMu, not mu, is held while the plugin configures: snapshots of
	// other exports must not wait for it.
	e.openMu.Lock()
	defer e.openMu.Unlock()
	e.mu.Lock()
	d := e.dest
	e.mu.Unlock()
	if d != nil {
		return d, nil
	}
	d, err := e.c.configure(ctx, e)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	gone := e.retired && e.refs == 0
	if !gone {
		e.dest = d
	}
	e.mu.Unlock()
	if gone {
		e.c.removeDest(d)
		return nil, sdk.Retryable(fmt.Errorf("destination %s was changed or removed meanwhile", e.Name))
	}
	return d, nil
}

// configure configures e in its plugin, launching the plugin if needed.
func (c *Catalog) configure(ctx context.Context, e *Entry) (*pluginhost.Destination, error) {
	if err := c.host.Launch(ctx, []string{e.Plugin}); err != nil {
		return nil, sdk.Retryable(err)
	}
	d, err := c.host.Configure(ctx, sdk.DestinationInfo{Name: e.Name, Account: e.Account}, e.Plugin, e.cfg)
	if err != nil {
		return nil, redactErr(err, e.secrets)
	}
	c.log.Debug("destination configured", "destination", e.Name, "plugin", e.Plugin, "account", e.Account,
		"origin", e.Origin, "revision", e.Revision, "config", config.Redact(e.schema, e.cfg))
	return d, nil
}

// retire marks an entry replaced or removed: it is removed from its
// plugin once no snapshot holds it. The caller holds c.mu.
func (c *Catalog) retire(e *Entry) {
	e.mu.Lock()
	e.retired = true
	idle := e.refs == 0
	e.mu.Unlock()
	if idle {
		c.remove(e)
	}
}

// removeTimeout bounds one removal from a plugin.
const removeTimeout = 30 * time.Second

// remove takes a retired entry out of its plugin, in the background.
func (c *Catalog) remove(e *Entry) {
	e.mu.Lock()
	d := e.dest
	e.dest = nil
	e.mu.Unlock()
	if d != nil {
		c.removeDest(d)
	}
}

// removeDest removes a configured destination from its plugin, in the
// background.
func (c *Catalog) removeDest(d *pluginhost.Destination) {
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), removeTimeout)
		defer cancel()
		if err := d.Remove(ctx); err != nil {
			c.log.Warn("removing a destination from its plugin failed; it stays there until the plugin restarts",
				"destination", d.Name(), "plugin", d.Plugin(), "error", err)
		}
	}()
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
