package catalog

import (
	"context"
	"fmt"

	"github.com/exportd/exportd/internal/registry"
	"github.com/exportd/exportd/sdk"
)

var _ registry.Plugins = (*Catalog)(nil)

// Apply applies one change of the registry: a destination registered,
// replaced or removed. New exports see it at once; exports in flight keep
// what they began with. A registration that cannot be decoded here (its
// plugin is not installed on this host, its key is missing) stays in the
// catalog as an error that every export of it reports.
func (c *Catalog) Apply(ctx context.Context, ch registry.Change) {
	if ch.Removed || ch.Err != nil {
		if ch.Err != nil {
			c.log.Error("the registry holds an unreadable destination; ignoring it", "destination", ch.Name, "error", ch.Err)
		}
		c.mu.Lock()
		old := c.registered[ch.Name]
		delete(c.registered, ch.Name)
		if old != nil {
			c.retire(old)
		}
		c.mu.Unlock()
		if old != nil && ch.Removed {
			c.log.Info("registered destination removed", "destination", ch.Name, "account", old.Account)
		}
		return
	}
	e := c.decode(ctx, ch.Entry)
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.registered[ch.Name]
	if old != nil && old.Revision >= e.Revision {
		return // a watch replaying what the catalog has
	}
	if old != nil && old.same(e) {
		return // nothing to configure again
	}
	c.registered[ch.Name] = e
	if old != nil {
		c.retire(old)
	}
	log := c.log.With("destination", e.Name, "plugin", e.Plugin, "account", e.Account, "revision", e.Revision)
	switch _, static := c.static[e.Name]; {
	case static:
		log.Error("a registered destination has the name of one in the HCL configuration; the HCL one is used")
	case e.err != nil:
		log.Error("registered destination cannot be used", "error", e.err)
	case old != nil:
		log.Info("registered destination changed")
	default:
		log.Debug("registered destination added")
	}
}

// decode makes the entry of a registered destination.
func (c *Catalog) decode(ctx context.Context, r registry.Entry) *Entry {
	e := &Entry{
		Name: r.Name, Plugin: r.Plugin, Account: r.Account, Tables: r.Tables, Enabled: r.Enabled,
		Origin: FromRegistry, Revision: r.Revision, record: r, c: c,
	}
	conf, keys := c.Settings()
	if conf != nil && !conf.Registry.AllowsPlugin(r.Plugin) {
		e.err = sdk.ConfigError("", fmt.Errorf("registered destination %s: plugin %s may not be used by registered destinations (registry { plugins } of the daemon's configuration)", r.Name, r.Plugin))
		return e
	}
	schema, err := c.Schema(ctx, r.Plugin)
	if err != nil {
		e.err = sdk.ConfigError("", fmt.Errorf("registered destination %s: plugin %s: %w", r.Name, r.Plugin, err))
		return e
	}
	dec, err := registry.Decode(conf, r, keys, schema)
	if err != nil {
		e.err = sdk.ConfigError("", fmt.Errorf("registered destination %s: %w", r.Name, err))
		return e
	}
	e.cfg, e.schema, e.secrets = dec.Config, schema, dec.Secrets
	return e
}

// Redecode decodes again the registered destinations that could not be
// used, and those whose plugin the configuration no longer allows, as a
// reload may bring a key or a plugin they lacked, or take a plugin's
// permission away.
func (c *Catalog) Redecode(ctx context.Context) {
	conf, _ := c.Settings()
	c.mu.Lock()
	var stale []registry.Entry
	for _, e := range c.registered {
		if e.err != nil || !conf.Registry.AllowsPlugin(e.Plugin) {
			stale = append(stale, e.record)
		}
	}
	c.mu.Unlock()
	for _, r := range stale {
		e := c.decode(ctx, r)
		c.mu.Lock()
		if old := c.registered[r.Name]; old != nil && old.Revision == r.Revision {
			c.registered[r.Name] = e
			c.retire(old)
			if e.err == nil {
				c.log.Info("registered destination can be used now", "destination", r.Name)
			} else if old.err == nil {
				c.log.Error("registered destination cannot be used any more", "destination", r.Name, "error", e.err)
			}
		}
		c.mu.Unlock()
	}
}

// Schema returns a plugin's schema, launching the plugin if needed.
func (c *Catalog) Schema(ctx context.Context, plugin string) (sdk.Schema, error) {
	if err := c.host.Launch(ctx, []string{plugin}); err != nil {
		return sdk.Schema{}, err
	}
	return c.host.Schema(plugin)
}

// Try configures a destination apart from the catalog's, runs its Check
// when check is set, and removes it from its plugin again.
func (c *Catalog) Try(ctx context.Context, info sdk.DestinationInfo, plugin string, cfg sdk.Config, check bool) (string, error) {
	if err := c.host.Launch(ctx, []string{plugin}); err != nil {
		return "", err
	}
	d, err := c.host.Configure(ctx, info, plugin, cfg)
	if err != nil {
		return "", err
	}
	defer func() {
		if err := d.Remove(context.WithoutCancel(ctx)); err != nil {
			c.log.Warn("removing a tried destination from its plugin failed", "destination", info.Name, "error", err)
		}
	}()
	if !check {
		return "", nil
	}
	msg, err := d.Check(ctx)
	if err != nil {
		return "", &registry.CheckError{Err: err}
	}
	return msg, nil
}

// CheckStatic runs the Check of a destination of the HCL configuration.
func (c *Catalog) CheckStatic(ctx context.Context, name string) (string, error) {
	c.mu.Lock()
	e, ok := c.static[name]
	c.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("%w: %s", registry.ErrNotFound, name)
	}
	d, err := e.Open(ctx)
	if err != nil {
		return "", err
	}
	msg, err := d.Check(ctx)
	return msg, redactErr(err, e.secrets)
}
