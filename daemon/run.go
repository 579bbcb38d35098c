package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
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

	svc, ok := build(ctx, cfg, log)
	if !ok {
		return 1
	}
	defer svc.Close()
	log.Info("exportd starting", "version", version, "config", cfg.Filename, "data_dir", cfg.DataDir)
	if err := svc.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "exportd: %v\n", err)
		return 1
	}
	return 0
}
