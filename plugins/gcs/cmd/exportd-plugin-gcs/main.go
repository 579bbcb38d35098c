// Command exportd-plugin-gcs is the Google Cloud Storage destination
// plugin. The exportd daemon launches it; run by hand it only says so.
package main

import (
	"github.com/exportd/exportd/plugins/gcs"
	"github.com/exportd/exportd/sdk"
)

func main() { sdk.Serve(&gcs.Plugin{}) }
