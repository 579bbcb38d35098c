// Package sdk is what an exportd destination plugin is written with.
//
// A destination plugin is a separate executable, named
// exportd-plugin-<name>, whose main function calls [Serve] with a [Plugin].
// The exportd daemon launches it and talks to it over gRPC with mutual TLS
// (see proto/destination/v1). The daemon encodes every table of a dump once
// into parquet files in its spool directory and hands each finished file
// to every destination with [Export.Put]; the plugin reads the file from
// its path ([OpenVerified] checks its digest) and delivers it. Bulk data
// never crosses the protocol.
//
// A plugin describes itself with a [Schema]: its attributes, with their
// types, defaults, allowed values and ranges, which the daemon and the SDK
// enforce before [Plugin.Configure] runs, and its [Capabilities], such as
// the largest file one Put takes, which the daemon respects when it sizes
// files.
//
// The lifecycle of one export is [Destination.Begin], then [Export.Put]
// concurrently for each file, then [Export.Commit] (which makes the dump
// visible, for example by writing a receipt) or [Export.Abort]. The SDK
// guards that contract for every plugin: a Commit that does not name
// exactly the files Put, an export time that would share the previous
// dump's minute, a Put after Commit, all are refused before the plugin
// sees them.
//
// Errors a plugin returns should be classified with [Retryable],
// [Permanent], [ConfigError] or [PlatformError] so the daemon can decide
// whether to retry the export, give it up, or report a broken setup.
// Unclassified errors count as retryable. No error leaves the plugin with
// the value of a sensitive attribute in it.
//
// The examples show a complete plugin; package sdk/destinationtest is the
// conformance suite every plugin must pass, package sdk/legacylayout the
// S3 Legacy object layout and receipt, package sdk/retry backoff and
// attempt deadlines for plugins that call a store's API themselves, and
// package sdk/host the daemon's side of the protocol.
//
// This package imports nothing from exportd's internal packages.
package sdk
