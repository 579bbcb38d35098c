// Command exportd-plugin-s3legacy is the AWS S3 Legacy destination plugin.
// The exportd daemon launches it; run by hand it only says so.
package main

import (
	"github.com/exportd/exportd/plugins/s3legacy"
	"github.com/exportd/exportd/sdk"
)

func main() { sdk.Serve(&s3legacy.Plugin{}) }
