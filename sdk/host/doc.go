// Package host is the daemon's side of the exportd destination protocol:
// it starts a destination plugin and drives it through the Go interfaces
// that plugins implement (sdk.Destination, sdk.Export), so that a host
// talks to an out-of-process plugin exactly as it would to an in-process
// one.
//
// A plugin reaches a host in one of three ways:
//
//   - [Launch] executes the plugin's binary with an allow-listed
//     environment and completes go-plugin's handshake over mutual TLS.
//     This is how the daemon runs plugins.
//   - [Attach] connects to a plugin already running, under a debugger:
//     started with sdk.WithDebug, the plugin prints the value of the
//     EXPORTD_REATTACH_PLUGINS variable ([ReattachEnv]), and a daemon
//     started with it attaches instead of launching ([ParseReattach]).
//   - [Start] serves a plugin from the calling process, through the same
//     gRPC protocol, for tests that want coverage of the plugin's code or
//     a debugger on it (sdk/destinationtest's Harness.Plugin).
//
// Plugin authors do not need this package: they implement sdk.Plugin and
// call sdk.Serve, and test with sdk/destinationtest.
package host
