// Command exportd-plugin-localfs is the localfs destination plugin. The
// exportd daemon launches it; run by hand it only says so,
// unless -debug asks it to run standalone for a debugger.
package main

import (
	"flag"

	"github.com/exportd/exportd/plugins/localfs"
	"github.com/exportd/exportd/sdk"
)

func main() {
	debug := flag.Bool("debug", false, "run standalone (under a debugger) and print how to make exportd attach to this plugin")
	flag.Parse()
	sdk.Serve(localfs.Plugin{}, sdk.WithDebug(*debug))
}
