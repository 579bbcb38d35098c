package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/pluginhost"
	"github.com/exportd/exportd/internal/registry"
	"github.com/exportd/exportd/sdk"
	"github.com/hashicorp/hcl/v2"
)

// Staged is a configuration's destinations decoded and configured in
// their plugins, not yet in force: Commit puts them in force, Abandon
// drops them.
type Staged struct {
	c       *Catalog
	conf    *config.Config
	keys    *registry.Keyring
	entries map[string]*Entry
	// fresh are the entries staging made (not reused from the catalog).
	fresh []*Entry
	// Added, Changed and Removed name the HCL destinations that Commit
	// adds, changes and removes.
	Added, Changed, Removed []string
	// RestartNeeded names plugin blocks that only a restart applies: the
	// plugin runs with another path, digest or environment.
	RestartNeeded []string
}

// Stage prepares conf's destinations as Build and reload need them: it
// launches the plugins they use (checking pinned digests), decodes each
// destination against its plugin's schema and configures it, reusing the
// catalog's entry for a destination that did not change. Every problem is
// a diagnostic pointing into the configuration; on errors, Abandon the
// result.
func (c *Catalog) Stage(ctx context.Context, conf *config.Config, keys *registry.Keyring) (*Staged, hcl.Diagnostics) {
	s := &Staged{c: c, conf: conf, keys: keys, entries: map[string]*Entry{}}
	for _, p := range conf.Plugins {
		if !c.host.Declare(pluginhost.Spec{Name: p.Name, Path: p.Path, SHA256: p.SHA256, Env: p.Env}) {
			s.RestartNeeded = append(s.RestartNeeded, `plugin "`+p.Name+`"`)
		}
	}
	diags, failed := s.launch(ctx)
	c.mu.Lock()
	current, registered := c.static, c.registered
	c.mu.Unlock()
	for _, d := range conf.Destinations {
		if failed[d.Plugin] {
			continue
		}
		if r, ok := registered[d.Name]; ok && r.err == nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Destination also registered",
				Detail: fmt.Sprintf("A destination named %q is registered at run time too (plugin %s, account %s); names are unique across the file and the registry: rename this one or delete the registration.",
					d.Name, r.Plugin, r.Account),
				Subject: d.DeclRange.Ptr(),
			})
			continue
		}
		e, ddiags := s.stage(ctx, d, current[d.Name])
		diags = append(diags, ddiags...)
		if e != nil {
			s.entries[d.Name] = e
		}
	}
	for n := range current {
		if _, ok := s.entries[n]; !ok && !slices.ContainsFunc(conf.Destinations, func(d config.Destination) bool { return d.Name == n }) {
			s.Removed = append(s.Removed, n)
		}
	}
	sort.Strings(s.Removed)
	return s, diags
}

// launch starts the plugins conf's destinations use and reports those
// that failed.
func (s *Staged) launch(ctx context.Context) (hcl.Diagnostics, map[string]bool) {
	var diags hcl.Diagnostics
	failed := map[string]bool{}
	var names []string
	for _, d := range s.conf.Destinations {
		if !slices.Contains(names, d.Plugin) {
			names = append(names, d.Plugin)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if err := s.c.host.Launch(ctx, []string{name}); err != nil {
			failed[name] = true
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  pluginErrorSummary(err),
				Detail:   err.Error(),
				Subject:  pluginRange(s.conf, name).Ptr(),
			})
		}
	}
	return diags, failed
}

// stage decodes one destination and configures it, or reuses old when
// nothing changed.
func (s *Staged) stage(ctx context.Context, d config.Destination, old *Entry) (*Entry, hcl.Diagnostics) {
	schema, err := s.c.host.Schema(d.Plugin)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Plugin not running", Detail: err.Error(), Subject: d.DeclRange.Ptr()}}
	}
	cfg, diags := s.conf.DecodeDestination(d, schema)
	if diags.HasErrors() {
		return nil, diags
	}
	e := &Entry{
		Name: d.Name, Plugin: d.Plugin, Account: d.Account, Tables: d.Tables, Enabled: d.Enabled, Origin: FromHCL,
		cfg: cfg, schema: schema, secrets: sensitiveValues(schema, cfg), c: s.c,
	}
	if old != nil && old.same(e) {
		return old, diags
	}
	dest, err := s.c.configure(ctx, e)
	if err != nil {
		return nil, append(diags, d.MarkSensitive(schema, hcl.Diagnostics{s.configureDiagnostic(d, err)})...)
	}
	e.dest = dest
	s.fresh = append(s.fresh, e)
	if old == nil {
		s.Added = append(s.Added, d.Name)
	} else {
		s.Changed = append(s.Changed, d.Name)
	}
	return e, diags
}

// configureDiagnostic points a plugin's refusal of a destination at the
// attribute at fault, or, when the platform's own identity is (which the
// operator sets up for the plugin), at the plugin's block.
func (s *Staged) configureDiagnostic(d config.Destination, err error) *hcl.Diagnostic {
	diag := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid destination configuration", Subject: d.DeclRange.Ptr()}
	var se *sdk.Error
	if errors.As(err, &se) {
		if se.Attribute != "" {
			// The range points at the attribute: say what is wrong with it.
			diag.Subject, err = d.AttributeRange(se.Attribute).Ptr(), se.Err
		} else if se.Platform {
			diag.Subject = pluginRange(s.conf, d.Plugin).Ptr()
		}
		if se.Platform {
			diag.Summary = "The platform's own identity does not work"
		}
	}
	diag.Detail = fmt.Sprintf("Destination %q (plugin %s): %v", d.Name, d.Plugin, err)
	return diag
}

// same reports whether two entries configure a destination alike.
func (e *Entry) same(o *Entry) bool {
	return e.err == nil && o.err == nil && e.Plugin == o.Plugin && e.Account == o.Account &&
		e.Enabled == o.Enabled && slices.Equal(e.Tables, o.Tables) && bytes.Equal(e.cfg.JSON(), o.cfg.JSON())
}

// Commit puts the staged configuration in force: new exports see its
// destinations; exports in flight keep theirs, which are removed from
// their plugins when the last such export ends.
func (s *Staged) Commit() {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.static
	c.static, c.conf, c.keys = s.entries, s.conf, s.keys
	for n, e := range old {
		if s.entries[n] != e {
			c.retire(e)
		}
	}
}

// Abandon removes from their plugins the destinations that staging
// configured, leaving the catalog as it was.
func (s *Staged) Abandon() {
	for _, e := range s.fresh {
		s.c.remove(e)
	}
}

func pluginErrorSummary(err error) string {
	switch {
	case errors.Is(err, pluginhost.ErrChecksumMismatch):
		return "Plugin checksum mismatch"
	case errors.Is(err, pluginhost.ErrNotInstalled):
		return "Unknown plugin"
	case errors.Is(err, pluginhost.ErrUnsafePermissions):
		return "Unsafe plugin permissions"
	}
	return "Plugin failed to start"
}

// pluginRange points at the plugin block, or at the first destination
// using the plugin when it has none.
func pluginRange(conf *config.Config, name string) hcl.Range {
	for _, p := range conf.Plugins {
		if p.Name == name {
			return p.DeclRange
		}
	}
	for _, d := range conf.Destinations {
		if d.Plugin == name {
			return d.DeclRange
		}
	}
	return hcl.Range{}
}
