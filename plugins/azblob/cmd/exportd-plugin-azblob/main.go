// Command exportd-plugin-azblob is the Azure Blob Storage destination
// plugin. The exportd daemon launches it; run by hand it only says so.
package main

import (
	"github.com/exportd/exportd/plugins/azblob"
	"github.com/exportd/exportd/sdk"
)

func main() { sdk.Serve(&azblob.Plugin{}) }
