package job

import (
	"context"

	"github.com/exportd/exportd/sdk"
)

// Catalog is where the engine finds an account's destinations: those of
// the configuration file and those registered at run time, which may
// change while the daemon runs. Implementations must be safe for
// concurrent use.
type Catalog interface {
	// Destinations returns the enabled destinations of an account as they
	// are configured now, sorted by name. They keep that configuration,
	// whatever changes meanwhile, until the set is released.
	Destinations(account string) *DestinationSet
}

// DestinationSet is an account's destinations as an export found them.
type DestinationSet struct {
	List []Destination
	// Release, when set, tells the catalog that the export is over.
	Release func()
}

// Destination is one destination of a set.
type Destination struct {
	Name    string
	Account string
	// Tables is the destination's subset of the tables; empty means all.
	Tables []string
	// Open returns the destination ready for an export. It may configure
	// it in its plugin first; its error says why the destination cannot be
	// used.
	Open func(ctx context.Context) (sdk.Destination, error)
}

// Names lists the set's destinations.
func (s *DestinationSet) Names() []string {
	out := make([]string, len(s.List))
	for i, d := range s.List {
		out[i] = d.Name
	}
	return out
}

// Lookup finds a destination of the set by name.
func (s *DestinationSet) Lookup(name string) (Destination, bool) {
	for _, d := range s.List {
		if d.Name == name {
			return d, true
		}
	}
	return Destination{}, false
}

// release releases the set, if it needs it.
func (s *DestinationSet) release() {
	if s != nil && s.Release != nil {
		s.Release()
	}
}
