package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/exportd/exportd/sdk"
	"golang.org/x/term"
)

func cmdExport(args []string) int {
	fs := newFlags("export", "-config FILE -account ID [-destination NAME]...")
	path := fs.String("config", "", "configuration `file` (HCL)")
	account := fs.String("account", "", "account `id` to export")
	var dests listFlag
	fs.Var(&dests, "destination", "export only to this destination `name` (repeatable; default: all of the account's)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *account == "" {
		fmt.Fprintln(os.Stderr, "exportd export: -account is required")
		return 2
	}
	cfg, ok := loadConfig(*path)
	if !ok {
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	tty := term.IsTerminal(int(os.Stderr.Fd()))
	logCfg := *cfg
	if tty && cfg.Log.Level == "info" {
		logCfg.Log.Level = "warn" // the progress display says what info logs would
	}
	log := newLogger(&logCfg, os.Stderr)
	svc, ok := build(ctx, cfg, log)
	if !ok {
		return 1
	}
	defer svc.Close()

	prog := newProgress(os.Stderr, tty)
	start := time.Now()
	stopDisplay := prog.start()
	outcomes, err := svc.ExportNow(ctx, *account, dests, prog)
	stopDisplay()
	if err != nil {
		fmt.Fprintf(os.Stderr, "exportd export: %v\n", err)
		return 1
	}
	code := 0
	took := time.Since(start).Round(time.Millisecond)
	for _, o := range outcomes {
		if o.Err != nil {
			code = 1
			fmt.Printf("%s: FAILED (%s): %v\n", o.Destination, sdk.KindOf(o.Err), o.Err)
			continue
		}
		fmt.Printf("%s: committed %d rows in %d files (%s) in %v; receipt %s\n",
			o.Destination, o.Rows(), o.Files(), humanBytes(o.Bytes()), took, o.Receipt.Location)
	}
	return code
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
