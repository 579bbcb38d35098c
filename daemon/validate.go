package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/exportd/exportd/internal/service"
	"github.com/exportd/exportd/sdk"
)

func cmdValidate(args []string) int {
	fs := newFlags("validate", "-config FILE [-check]")
	path := fs.String("config", "", "configuration `file` (HCL)")
	check := fs.Bool("check", false, "also open a source snapshot for each account, and check each destination's connectivity and credentials")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, ok := loadConfig(*path)
	if !ok {
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := newLogger(cfg, os.Stderr)
	if cfg.Log.Level != "debug" {
		log = slog.New(slog.DiscardHandler) // plugin chatter is noise here
	}
	svc, ok := build(ctx, cfg, log)
	if !ok {
		return 1
	}
	defer svc.Close()
	if !checkRegistry(ctx, svc) {
		return 1
	}

	accounts := map[string]int{}
	for _, d := range cfg.Destinations {
		accounts[d.Account]++
	}
	fmt.Printf("%s: valid; source %q, %d destination(s) for %d account(s)\n", cfg.Filename, cfg.Source.Kind, len(cfg.Destinations), len(accounts))
	checkWrites := map[string]bool{}
	for _, d := range cfg.Destinations {
		if conf, ok := svc.DestinationConfigs[d.Name]; ok {
			fmt.Printf("  destination %s (%s, account %s): %s\n", d.Name, d.Plugin, d.Account, conf)
		}
		if schema, err := svc.Host.Schema(d.Plugin); err == nil && schema.Capabilities.CheckWrites {
			checkWrites[d.Name] = true
		}
	}
	if !*check {
		return 0
	}
	failed := 0
	var accountNames []string
	for a := range accounts {
		accountNames = append(accountNames, a)
	}
	sort.Strings(accountNames)
	for _, a := range accountNames {
		if err := svc.CheckSource(ctx, a); err != nil {
			failed++
			fmt.Printf("  source for %-12s FAIL (%s) %v\n", a, sdk.KindOf(err), err)
			continue
		}
		fmt.Printf("  source for %-12s ok\n", a)
	}
	for _, e := range svc.Catalog.StaticEntries() {
		n := e.Name
		note := ""
		if checkWrites[n] {
			note = " [the check may leave a probe object]"
		}
		msg, err := svc.Catalog.CheckStatic(ctx, n)
		if err != nil {
			failed++
			fmt.Printf("  %-24s FAIL (%s) %v%s\n", n, checkFailure(err), err, note)
			continue
		}
		fmt.Printf("  %-24s ok   %s%s\n", n, msg, note)
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// checkRegistry refuses a configuration whose destinations share a name
// with registered ones. A registry it cannot reach is said, not fatal:
// validate also checks files on machines without NATS.
func checkRegistry(ctx context.Context, svc *service.Service) bool {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	diags, err := svc.CheckRegistry(rctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "exportd: note: %v; names the file shares with registered destinations are found when the daemon loads it\n", err)
		return true
	}
	printDiagnostics(svc.Config, diags)
	return !diags.HasErrors()
}

// checkFailure words the kind of a failed check, saying when the
// platform's own identity, which the operator sets up, is at fault.
func checkFailure(err error) string {
	if sdk.IsPlatformError(err) {
		return "configuration of the platform's own identity"
	}
	return sdk.KindOf(err).String()
}
