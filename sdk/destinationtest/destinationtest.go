// Package destinationtest is the conformance suite every exportd
// destination plugin must pass, and the helpers a plugin's own tests need.
//
// A plugin's tests call [Run] with a [Harness] that names the plugin (its
// binary, or the plugin itself to serve in-process) and creates fresh,
// empty destinations and reads back what was delivered to them. The suite
// drives the plugin through the real protocol (go-plugin, gRPC, and for a
// binary mutual TLS), exactly as the daemon does, and checks the contract
// of package sdk: configuration is validated against the schema with
// errors naming the attribute, and defaults, enums and ranges are honoured;
// broken setups are refused by Check; files arrive byte-identical; nothing
// is visible to consumers before Commit; Commit refuses an incomplete
// dump; Abort never publishes; a later dump replaces the receipt without
// deleting earlier files, and an older one never replaces a newer
// receipt; spool files are left untouched; cancellation is honoured; a
// recommit writes the same receipt again and never an older one; tables
// carried over from an earlier dump need no files; and, with a fault
// injector, transient failures of the store are retried or reported as
// retryable, never published.
//
// For a plugin's own tests the package offers [Dump] (an export's worth
// of spool files: [NewDump], [Dump.Export]), [Configure] (a destination
// configured in-process as the SDK would, for tests that reach into the
// plugin's types), [TestLogger] and [RequireConfigError].
package destinationtest

import (
	"context"
	"testing"

	"github.com/exportd/exportd/sdk"
)

// Harness describes the plugin under test.
type Harness struct {
	// Binary is the plugin executable, typically built by the test with
	// go build into t.TempDir(). Set Binary or Plugin.
	Binary string
	// Plugin is the plugin itself, served from the test's process through
	// the same protocol and SDK guard as a binary (see sdk/host.Start):
	// the coverage of its code counts, and a debugger stops in it.
	Plugin sdk.Plugin
	// Env adds to the plugin process's environment (credentials, say).
	// Binary only: a plugin served in-process sees the test's environment.
	Env []string

	// New creates a fresh, empty destination for one subtest and returns
	// its configuration and an Inspector that reads it back.
	New func(t *testing.T) (cfg map[string]any, in Inspector)

	// Invalid lists configurations that Configure must refuse, each with
	// the attribute the error must name.
	Invalid []InvalidConfig

	// Broken lists setups that Configure accepts but Check must refuse,
	// naming what to fix: a bucket that does not exist, credentials that
	// are refused, a grant that is missing.
	Broken []BrokenSetup

	// Faulty, when set, creates a fresh destination whose store fails on
	// demand (typically through a proxy in front of it). The suite then
	// checks that failures of the store are retried or reported as
	// retryable, and never make anything visible. Configure it with few
	// attempts per request, so that a failing store fails fast.
	Faulty func(t *testing.T) (cfg map[string]any, in Inspector, f Faults)
}

// InvalidConfig is a configuration that Configure must refuse.
type InvalidConfig struct {
	Name      string
	Config    map[string]any
	Attribute string
}

// BrokenSetup is a configuration that is valid but whose destination
// cannot work, which Check must find out.
type BrokenSetup struct {
	Name string
	// New returns the configuration, for a setup it may create (a role
	// without the grant, say).
	New func(t *testing.T) map[string]any
	// Attribute is the attribute Check's configuration error must name;
	// empty with Platform, or when no single attribute is at fault.
	Attribute string
	// Platform is set when the platform's own identity is at fault (see
	// sdk.PlatformError).
	Platform bool
}

// Faults breaks a destination's store on demand.
type Faults interface {
	// Fail makes every request to the store fail as an overloaded store
	// answers (HTTP 500, 503 or 429), from now until Fail(false).
	Fail(on bool)
}

// Inspector reads a destination back the way its consumers see it.
type Inspector interface {
	// Receipt returns the receipt consumers currently see, or nil and no
	// error when there is none.
	Receipt(ctx context.Context) ([]byte, error)
	// File returns the bytes delivered for one file of the export
	// described by info, or an error wrapping fs.ErrNotExist when absent.
	File(ctx context.Context, info sdk.ExportInfo, table string, index int) ([]byte, error)
}

// Run runs the conformance suite against the plugin described by h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if (h.Binary == "") == (h.Plugin == nil) || h.New == nil {
		t.Fatal("destinationtest: Harness needs New, and Binary or Plugin (not both)")
	}
	s := &suite{h: h}
	s.start(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, s) })
	}
}
