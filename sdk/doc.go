// Package sdk is the public face of exportd for destination plugin authors.
//
// A destination plugin is a separate executable, named
// exportd-plugin-<name>, whose main function calls [Serve] with a [Plugin].
// The exportd daemon launches it through hashicorp/go-plugin and talks to it
// over gRPC with mutual TLS (see proto/destination/v1). The daemon encodes
// every table of a dump once into parquet files in its spool directory and
// hands each finished file to every destination with [Export.Put]; the
// plugin reads the file from its path and delivers it. Bulk data never
// crosses the RPC boundary.
//
// The lifecycle of one export is [Destination.Begin], then [Export.Put]
// concurrently for each file, then [Export.Commit] (which makes the dump
// visible, for example by writing a receipt) or [Export.Abort].
//
// Errors a plugin returns should be classified with [Retryable],
// [Permanent] or [ConfigError] so the daemon can decide whether to retry the
// export, give it up, or report a broken setup. Unclassified errors count as
// retryable.
//
// The host side of the protocol ([Launch], [Client]) implements the same Go
// interfaces, so the daemon and the conformance suite in package
// destinationtest drive an out-of-process plugin exactly as they would an
// in-process one.
//
// This package imports nothing from exportd's internal packages.
package sdk
