package config

import (
	"fmt"

	"github.com/exportd/exportd/internal/event"
	"github.com/hashicorp/hcl/v2"
)

// Registry is the registry block: how destinations registered at run time
// through the API are kept.
type Registry struct {
	// KeyFile holds the keys that encrypt registered destinations'
	// sensitive attributes. Empty means none: the API then refuses
	// sensitive attributes.
	KeyFile string
	// KeyFileRange points at key_file, for diagnostics about the file.
	KeyFileRange hcl.Range
	// Plugins restricts the plugins registered destinations may use;
	// empty means any installed plugin.
	Plugins []string
}

// AllowsPlugin reports whether destinations of the named plugin may be
// registered through the API.
func (r Registry) AllowsPlugin(name string) bool {
	if len(r.Plugins) == 0 {
		return true
	}
	for _, p := range r.Plugins {
		if p == name {
			return true
		}
	}
	return false
}

func (c *Config) decodeRegistry(d *decoder, b *rawBlock) {
	if b == nil {
		return
	}
	a := d.attrs(b.Body, "key_file", "plugins")
	c.Registry.KeyFile = d.path(a["key_file"], "")
	if k := a["key_file"]; k != nil {
		c.Registry.KeyFileRange = k.Expr.Range()
	}
	d.strs(a["plugins"], &c.Registry.Plugins)
	for _, p := range c.Registry.Plugins {
		if !event.ValidID(p) {
			d.errorf(a["plugins"].Expr.Range(), "Invalid plugin name", fmt.Sprintf("%q: use letters, digits, _ and -.", p))
			return
		}
	}
}
