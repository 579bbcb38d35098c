// Package service assembles the exportd daemon from its configuration:
// the source, the destination plugins and their destinations, NATS, the
// shared state, the job engine and the operations endpoint. It is the
// composition root below the command line; the pieces it wires know
// nothing of each other.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/metrics"
	"github.com/exportd/exportd/internal/parquetw"
	"github.com/exportd/exportd/internal/pluginhost"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/sdk"
	"github.com/hashicorp/hcl/v2"

	// The kinds of source a configuration may name.
	_ "github.com/exportd/exportd/internal/source/postgres"
	_ "github.com/exportd/exportd/internal/source/sample"
)

// Service is a configured exportd: source opened, plugins running,
// destinations configured. Close releases it.
type Service struct {
	Config       *config.Config
	Log          *slog.Logger
	Metrics      *metrics.Metrics
	Source       source.Source
	Host         *pluginhost.Host
	Destinations map[string]sdk.Destination
	// Version is the daemon's version, told to destinations (a manifest
	// names it).
	Version string
}

// Build checks the configuration completely and prepares everything it
// names: the source, each plugin (verified against its pinned checksum and
// launched) and each destination (decoded against its plugin's schema and
// configured). Every problem is a diagnostic pointing into the
// configuration. On errors, nothing is left running.
func Build(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Service, hcl.Diagnostics) {
	s := &Service{Config: cfg, Log: log, Metrics: metrics.New(), Destinations: map[string]sdk.Destination{}}
	var diags hcl.Diagnostics

	src, d := buildSource(cfg, log)
	diags = append(diags, d...)
	s.Source = src
	if err := ParquetOptions(cfg.Parquet).Validate(); err != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid parquet settings", Detail: err.Error()})
	}

	s.Host = pluginhost.New(pluginSpecs(cfg), pluginhost.Options{
		Dir:       pluginDir(cfg),
		WorkDir:   cfg.Dir,
		Logger:    log,
		OnRestart: s.Metrics.PluginRestarted,
	})
	diags = append(diags, s.configureDestinations(ctx)...)
	if diags.HasErrors() {
		s.Close()
		return nil, diags
	}
	return s, diags
}

// Close stops the plugins and closes the source.
func (s *Service) Close() {
	if s.Host != nil {
		s.Host.Close()
	}
	if s.Source != nil {
		s.Source.Close()
	}
}

func buildSource(cfg *config.Config, log *slog.Logger) (source.Source, hcl.Diagnostics) {
	factory, ok := source.Lookup(cfg.Source.Kind)
	if !ok {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unknown source",
			Detail:   fmt.Sprintf("There is no source %q; exportd has %s.", cfg.Source.Kind, strings.Join(source.Kinds(), ", ")),
			Subject:  cfg.Source.DeclRange.Ptr(),
		}}
	}
	return factory(cfg.Source.Body, source.Env{EvalContext: cfg.EventContext, DataDir: cfg.DataDir, Logger: log})
}

func pluginSpecs(cfg *config.Config) []pluginhost.Spec {
	specs := make([]pluginhost.Spec, len(cfg.Plugins))
	for i, p := range cfg.Plugins {
		specs[i] = pluginhost.Spec{Name: p.Name, Path: p.Path, SHA256: p.SHA256, Env: p.Env}
	}
	return specs
}

// pluginDir is the configured plugin directory, or else where an
// installation puts the plugins beside the exportd executable: for
// <prefix>/bin/exportd, <prefix>/lib/exportd/plugins when it exists (the
// Debian package's /usr/lib/exportd/plugins), or the executable's own
// directory, where `make build` puts them.
func pluginDir(cfg *config.Config) string {
	if cfg.PluginDir != "" {
		return cfg.PluginDir
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	return defaultPluginDir(filepath.Dir(exe))
}

// defaultPluginDir picks the plugin directory for an executable in
// exeDir.
func defaultPluginDir(exeDir string) string {
	if filepath.Base(exeDir) == "bin" {
		lib := filepath.Join(filepath.Dir(exeDir), "lib", "exportd", "plugins")
		if fi, err := os.Stat(lib); err == nil && fi.IsDir() {
			return lib
		}
	}
	return exeDir
}

// configureDestinations launches the plugins the destinations use and
// configures every destination, turning each failure into a diagnostic.
func (s *Service) configureDestinations(ctx context.Context) hcl.Diagnostics {
	cfg := s.Config
	var diags hcl.Diagnostics
	failed := map[string]bool{}
	var names []string
	for _, d := range cfg.Destinations {
		if !slices.Contains(names, d.Plugin) {
			names = append(names, d.Plugin)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if err := s.Host.Launch(ctx, []string{name}); err != nil {
			failed[name] = true
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  pluginErrorSummary(err),
				Detail:   err.Error(),
				Subject:  s.pluginRange(name).Ptr(),
			})
		}
	}
	for _, d := range cfg.Destinations {
		if failed[d.Plugin] {
			continue
		}
		schema, err := s.Host.Schema(d.Plugin)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Plugin not running", Detail: err.Error(), Subject: d.DeclRange.Ptr()})
			continue
		}
		pc, ddiags := cfg.DecodeDestination(d, schema)
		diags = append(diags, ddiags...)
		if ddiags.HasErrors() {
			continue
		}
		dest, err := s.Host.Configure(ctx, sdk.DestinationInfo{Name: d.Name, Account: d.Account}, d.Plugin, pc)
		if err != nil {
			rng := d.DeclRange
			var se *sdk.Error
			if errors.As(err, &se) && se.Attribute != "" {
				// The range points at the attribute: say what is wrong with it.
				rng, err = d.AttributeRange(se.Attribute), se.Err
			}
			diags = append(diags, d.MarkSensitive(schema, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Invalid destination configuration",
				Detail:   fmt.Sprintf("Destination %q (plugin %s): %v", d.Name, d.Plugin, err),
				Subject:  rng.Ptr(),
			}})...)
			continue
		}
		s.Destinations[d.Name] = dest
		s.Log.Debug("destination configured", "destination", d.Name, "plugin", d.Plugin, "account", d.Account, "config", config.Redact(schema, pc))
	}
	return diags
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
func (s *Service) pluginRange(name string) hcl.Range {
	for _, p := range s.Config.Plugins {
		if p.Name == name {
			return p.DeclRange
		}
	}
	for _, d := range s.Config.Destinations {
		if d.Plugin == name {
			return d.DeclRange
		}
	}
	return hcl.Range{}
}

// ParquetOptions maps the configuration's parquet block onto the writer's
// options.
func ParquetOptions(p config.Parquet) parquetw.Options {
	return parquetw.Options{
		Compression:      parquetw.Compression(p.Compression),
		CompressionLevel: p.CompressionLevel,
		TargetFileSize:   p.TargetFileSize,
		RowGroupBytes:    p.RowGroupSize,
		Lanes:            p.Lanes,
	}
}

// CheckSource opens and closes a snapshot of an account, as an export
// would: it proves the source is reachable, the account's tables exist,
// and every column can be mapped.
func (s *Service) CheckSource(ctx context.Context, account string) error {
	snap, err := s.Source.Open(ctx, source.Request{Event: event.ModellingCompleted{
		AccountID: account, RunID: "validate", CompletedAt: time.Now().UTC(),
	}})
	if err != nil {
		return err
	}
	return snap.Close()
}
