// Command exportd delivers a full parquet dump of an account's tables to
// each of its destinations whenever a data-modelling run completes.
//
//	exportd run      -config FILE                 run the daemon
//	exportd validate -config FILE [-check]        check a configuration
//	exportd export   -config FILE -account ID     export once, now
//	exportd publish  -config FILE -account ID     publish a modelling-complete event
//	exportd reexport -nats URL -account ID        request a re-export
//	exportd status   -config FILE                 show the fleet's status
//	exportd destinations put|get|list|delete|check  manage registered destinations
//	exportd version                               print the version
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type command struct {
	name    string
	summary string
	run     func(args []string) int
}

var commands = []command{
	{"run", "run the daemon: consume modelling-complete events and export", cmdRun},
	{"validate", "check a configuration file (and, with -check, each destination)", cmdValidate},
	{"export", "export an account's tables now, without NATS events", cmdExport},
	{"publish", "publish a modelling-complete event (for operators and tests)", cmdPublish},
	{"reexport", "ask the running daemons to export an account again", cmdReexport},
	{"status", "show each destination's last dump, failure, export in flight and events waiting", cmdStatus},
	{"destinations", "register, show, list, delete or check destinations at run time", cmdDestinations},
	{"version", "print the version", cmdVersion},
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	name := os.Args[1]
	for _, c := range commands {
		if c.name == name {
			os.Exit(c.run(os.Args[2:]))
		}
	}
	if name != "-h" && name != "-help" && name != "--help" && name != "help" {
		fmt.Fprintf(os.Stderr, "exportd: unknown command %q\n\n", name)
	}
	usage()
	os.Exit(2)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: exportd <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(os.Stderr, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun 'exportd <command> -h' for a command's flags.")
}

func cmdVersion([]string) int {
	fmt.Printf("exportd %s (destination protocol v1)\n", version)
	return 0
}
