package service

import (
	"context"
	"strings"

	"github.com/exportd/exportd/internal/config"
	"github.com/hashicorp/hcl/v2"
)

// Reloaded says what a reload changed.
type Reloaded struct {
	// Config is the configuration read, for printing its diagnostics.
	Config *config.Config
	// Added, Changed and Removed name the destinations of the file that
	// the reload added, changed and removed.
	Added, Changed, Removed []string
	// RestartNeeded names the settings that differ from the running
	// daemon's and that only a restart applies.
	RestartNeeded []string
}

// Reload reads the configuration file at path again and checks it as
// Build does, launching the plugins it newly uses. A configuration with
// errors is refused whole and the daemon goes on as it was. Otherwise its
// destinations take effect for new exports (exports in flight keep
// theirs), as do the registry block and plugin blocks of plugins not yet
// running; other changed settings are reported as needing a restart.
func (s *Service) Reload(ctx context.Context, path string) (Reloaded, hcl.Diagnostics) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	next, diags := config.Load(path)
	r := Reloaded{Config: next}
	if diags.HasErrors() {
		s.logRefused(diags)
		return r, diags
	}
	keys, kdiags := loadKeys(next)
	diags = append(diags, kdiags...)
	staged, sdiags := s.Catalog.Stage(ctx, next, keys)
	diags = append(diags, sdiags...)
	if diags.HasErrors() {
		staged.Abandon()
		s.logRefused(diags)
		return r, diags
	}
	staged.Commit()
	s.Catalog.Redecode(ctx)
	go s.reseal(ctx)
	r.Added, r.Changed, r.Removed = staged.Added, staged.Changed, staged.Removed
	r.RestartNeeded = append(s.Config.RestartNeeded(next), staged.RestartNeeded...)
	s.Log.Info("configuration reloaded", "config", next.Filename,
		"added", r.Added, "changed", r.Changed, "removed", r.Removed, "destinations", len(next.Destinations))
	if len(r.RestartNeeded) > 0 {
		s.Log.Warn("changed settings take effect only at a restart; the daemon goes on with the ones it started with",
			"settings", strings.Join(r.RestartNeeded, ", "))
	}
	return r, diags
}

// logRefused logs a refused reload with its errors, one line each, never
// a line of the file (which may hold a secret).
func (s *Service) logRefused(diags hcl.Diagnostics) {
	errs := diags.Errs()
	s.Log.Error("configuration reload refused; the daemon goes on with the configuration it had", "errors", len(errs))
	for _, err := range errs {
		s.Log.Error("configuration error", "error", err.Error())
	}
}
