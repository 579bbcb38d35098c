package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/service"
	"github.com/hashicorp/hcl/v2"
)

// newFlags returns a flag set whose usage names the command.
func newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("exportd "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: exportd %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; it returns an exit code and false when the command
// should stop (help, or a bad flag).
func parse(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "exportd: unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		fs.Usage()
		return 2, false
	}
	return 0, true
}

// loadConfig loads a configuration and prints its diagnostics.
func loadConfig(path string) (*config.Config, bool) {
	if path == "" {
		fmt.Fprintln(os.Stderr, "exportd: -config is required")
		return nil, false
	}
	cfg, diags := config.Load(path)
	printDiagnostics(cfg, diags)
	return cfg, !diags.HasErrors()
}

func printDiagnostics(cfg *config.Config, diags hcl.Diagnostics) {
	var files map[string]*hcl.File
	if cfg != nil {
		files = cfg.Files
	}
	config.WriteDiagnostics(os.Stderr, files, diags)
}

// newLogger builds the daemon's logger as the configuration asks.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// build prepares the service, printing diagnostics on failure.
func build(ctx context.Context, cfg *config.Config, log *slog.Logger) (*service.Service, bool) {
	svc, diags := service.Build(ctx, cfg, log)
	printDiagnostics(cfg, diags)
	if diags.HasErrors() {
		return nil, false
	}
	svc.Version = version
	return svc, true
}

// listFlag collects a repeatable flag whose values may also be
// comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}
