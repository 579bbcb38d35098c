// Package service assembles the exportd daemon from its configuration:
// the source, the destination plugins and their destinations, NATS, the
// shared state, the job engine and the operations endpoint. It is the
// composition root below the command line; the pieces it wires know
// nothing of each other.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/exportd/exportd/internal/catalog"
	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/metrics"
	"github.com/exportd/exportd/internal/parquetw"
	"github.com/exportd/exportd/internal/pluginhost"
	"github.com/exportd/exportd/internal/registry"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/sdk/host"
	"github.com/hashicorp/hcl/v2"

	// The kinds of source a configuration may name.
	_ "github.com/exportd/exportd/internal/source/postgres"
	_ "github.com/exportd/exportd/internal/source/sample"
)

// Service is a configured exportd: source opened, plugins running,
// destinations configured. Close releases it.
type Service struct {
	// Config is the configuration the service was built with; a reload
	// changes the destinations (in Catalog), not this.
	Config  *config.Config
	Log     *slog.Logger
	Metrics *metrics.Metrics
	Source  source.Source
	Host    *pluginhost.Host
	// Catalog holds the destinations, of the file and registered.
	Catalog *catalog.Catalog
	// Version is the daemon's version, which every export tells its
	// destinations.
	Version string
	// DestinationConfigs is each configured destination's configuration as
	// `exportd validate` shows it: secrets redacted, defaults marked.
	DestinationConfigs map[string]string

	// reloadMu serialises reloads.
	reloadMu sync.Mutex
	// store is the registry, once Run opened it.
	store atomic.Pointer[registry.Store]
}

// Build checks the configuration completely and prepares everything it
// names: the source, each plugin (verified against its pinned checksum and
// launched) and each destination (decoded against its plugin's schema and
// configured). Every problem is a diagnostic pointing into the
// configuration. On errors, nothing is left running.
//
// ctx also bounds the background work of the destination catalog: it
// should live as long as the service.
func Build(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Service, hcl.Diagnostics) {
	s := &Service{Config: cfg, Log: log, Metrics: metrics.New(), DestinationConfigs: map[string]string{}}
	var diags hcl.Diagnostics

	src, d := buildSource(cfg, log)
	diags = append(diags, d...)
	s.Source = src
	if err := ParquetOptions(cfg.Parquet).Validate(); err != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid parquet settings", Detail: err.Error()})
	}

	attach, err := debugPlugins()
	if err != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + host.ReattachEnv, Detail: err.Error()})
	}
	s.Host = pluginhost.New(pluginSpecs(cfg), pluginhost.Options{
		Dir:       pluginDir(cfg),
		WorkDir:   cfg.Dir,
		Logger:    log,
		OnRestart: s.Metrics.PluginRestarted,
		Attach:    attach,
	})
	s.Catalog = catalog.New(ctx, s.Host, log)
	keys, kdiags := loadKeys(cfg)
	diags = append(diags, kdiags...)
	staged, sdiags := s.Catalog.Stage(ctx, cfg, keys)
	diags = append(diags, sdiags...)
	if diags.HasErrors() {
		staged.Abandon()
		s.Close()
		return nil, diags
	}
	staged.Commit()
	for _, e := range s.Catalog.StaticEntries() {
		s.DestinationConfigs[e.Name] = e.Describe()
	}
	return s, diags
}

// loadKeys reads the registry's key file, when the configuration names
// one.
func loadKeys(cfg *config.Config) (*registry.Keyring, hcl.Diagnostics) {
	if cfg.Registry.KeyFile == "" {
		return nil, nil
	}
	keys, err := registry.LoadKeyring(cfg.Registry.KeyFile)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid registry key file", Detail: err.Error(), Subject: cfg.Registry.KeyFileRange.Ptr()}}
	}
	return keys, nil
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

// debugPlugins reads the plugins running in debug mode, which the daemon
// attaches to instead of launching, from the environment variable that
// such a plugin prints (see sdk.WithDebug).
func debugPlugins() (map[string]host.Reattach, error) {
	v := os.Getenv(host.ReattachEnv)
	if v == "" {
		return nil, nil
	}
	return host.ParseReattach(v)
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
