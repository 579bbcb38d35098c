// Command exportd-plugin-localfs is the localfs destination plugin. The
// exportd daemon launches it; run by hand it only says so.
package main

import (
	"github.com/exportd/exportd/plugins/localfs"
	"github.com/exportd/exportd/sdk"
)

func main() { sdk.Serve(localfs.Plugin{}) }
