// Command exportd-plugin-regfs is the localfs destination with every
// attribute open to the run-time registration API, for tests of
// registered destinations: localfs keeps path for the operator's HCL (no
// registration may choose where the daemon writes on its own machine), so
// it cannot be registered at all. Apart from its name and that flag, it is
// localfs. It is built by tests only, never installed.
package main

import (
	"github.com/exportd/exportd/plugins/localfs"
	"github.com/exportd/exportd/sdk"
)

type plugin struct{ localfs.Plugin }

func (p plugin) Schema() sdk.Schema {
	s := p.Plugin.Schema()
	s.Name = "regfs"
	for i := range s.Attributes {
		s.Attributes[i].OperatorOnly = false
	}
	return s
}

func main() { sdk.Serve(plugin{}) }
