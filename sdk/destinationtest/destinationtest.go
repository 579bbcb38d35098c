// Package destinationtest is the conformance suite every exportd
// destination plugin must pass. A plugin's own tests build its binary and
// call [Run] with a [Harness] that creates fresh, empty destinations and
// reads back what was delivered to them.
//
// The suite drives the real binary through the real protocol (go-plugin,
// gRPC, mutual TLS), exactly as the daemon does, and checks the contract of
// package sdk: configuration is validated against the schema with errors
// naming the attribute; files arrive byte-identical; nothing is visible to
// consumers before Commit; Commit refuses an incomplete dump; Abort never
// publishes; a later dump replaces the receipt without deleting earlier
// files; spool files are left untouched; cancellation is honoured; a
// recommit writes the same receipt again and never an older one; tables
// carried over from an earlier dump need no files.
package destinationtest

import (
	"context"
	"testing"

	"github.com/exportd/exportd/sdk"
)

// Harness describes the plugin under test.
type Harness struct {
	// Binary is the plugin executable, typically built by the test with
	// go build into t.TempDir().
	Binary string
	// Env adds to the plugin process's environment (credentials, say).
	Env []string
	// New creates a fresh, empty destination for one subtest and returns
	// its configuration and an Inspector that reads it back.
	New func(t *testing.T) (cfg map[string]any, in Inspector)
	// Invalid lists configurations that Configure must refuse, each with
	// the attribute the error must name.
	Invalid []InvalidConfig
}

// InvalidConfig is a configuration that must be refused.
type InvalidConfig struct {
	Name      string
	Config    map[string]any
	Attribute string
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
	if h.Binary == "" || h.New == nil {
		t.Fatal("destinationtest: Harness needs Binary and New")
	}
	s := &suite{h: h}
	s.launch(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, s) })
	}
}
