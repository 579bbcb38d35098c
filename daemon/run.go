package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/exportd/exportd/internal/service"
)

func cmdRun(args []string) int {
	fs := newFlags("run", "-config FILE")
	path := fs.String("config", "", "configuration `file` (HCL)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, ok := loadConfig(*path)
	if !ok {
		return 1
	}
	log := newLogger(cfg, os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Taken at once, so that a SIGHUP during startup does not end the
	// process; it is handled once the daemon runs.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	svc, ok := build(ctx, cfg, log)
	if !ok {
		return 1
	}
	defer svc.Close()
	log.Info("exportd starting", "version", version, "config", cfg.Filename, "data_dir", cfg.DataDir)
	go reloadOnHangup(ctx, svc, cfg.Filename, hup)
	if err := svc.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "exportd: %v\n", err)
		return 1
	}
	return 0
}

// reloadOnHangup reloads the configuration file at each SIGHUP until ctx
// is done. A refused file's diagnostics are printed as validate prints
// them; the daemon goes on with the configuration it had.
func reloadOnHangup(ctx context.Context, svc *service.Service, path string, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		r, diags := svc.Reload(ctx, path)
		printDiagnostics(r.Config, diags)
	}
}
