// Package registry keeps the destinations registered at run time, beside
// those of the HCL configuration: their records in a JetStream KV bucket
// shared by every replica (<kv_prefix>_registry), their sensitive
// attributes sealed with the daemon's keys, and the request/reply API on
// NATS (exportd.api.destinations.{put,get,list,delete,check}) through
// which the platform's app registers them.
//
// A registration is decoded exactly as a destination block of the HCL
// file is (config.RegisteredDestination, then config.DecodeDestination
// against the plugin's schema), from a JSON body that hcl/json parses, so
// that its diagnostics name the attribute and point into the request.
// Values are literal: nothing in a request is evaluated.
//
// The package knows records, keys and the wire; it does not run plugins
// or exports. What it needs of the plugins and of the HCL configuration
// it asks through the Plugins interface.
package registry

import (
	"encoding/json"
	"time"
)

// Record is a registered destination as the bucket keeps it, under its
// name.
type Record struct {
	Name    string   `json:"name"`
	Plugin  string   `json:"plugin"`
	Account string   `json:"account"`
	Tables  []string `json:"tables,omitempty"`
	Enabled bool     `json:"enabled"`
	// Attributes holds the plugin's attributes that are not sensitive, as
	// decoded against its schema.
	Attributes map[string]json.RawMessage `json:"attributes,omitempty"`
	// Sealed holds the sensitive attributes, encrypted (see Keyring).
	Sealed    map[string]Sealed `json:"sealed,omitempty"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// Entry is a record with the bucket's revision of it.
type Entry struct {
	Record
	Revision uint64
}

// View is what the API shows of a registered destination: everything but
// the sensitive values, of which only the names appear.
type View struct {
	Name       string                     `json:"name"`
	Plugin     string                     `json:"plugin"`
	Account    string                     `json:"account"`
	Tables     []string                   `json:"tables,omitempty"`
	Enabled    bool                       `json:"enabled"`
	Attributes map[string]json.RawMessage `json:"attributes,omitempty"`
	// Sensitive names the sensitive attributes that are set.
	Sensitive []string `json:"sensitive,omitempty"`
	// SealedWith names the keys that sealed them, for key rotation.
	SealedWith []string  `json:"sealed_with,omitempty"`
	Revision   uint64    `json:"revision"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// View returns what the API may show of the entry.
func (e Entry) View() View {
	v := View{
		Name: e.Name, Plugin: e.Plugin, Account: e.Account, Tables: e.Tables, Enabled: e.Enabled,
		Attributes: e.Attributes, Revision: e.Revision, UpdatedAt: e.UpdatedAt,
	}
	keys := map[string]bool{}
	for name, s := range e.Sealed {
		v.Sensitive = append(v.Sensitive, name)
		if !keys[s.Key] {
			keys[s.Key] = true
			v.SealedWith = append(v.SealedWith, s.Key)
		}
	}
	sortStrings(v.Sensitive)
	sortStrings(v.SealedWith)
	return v
}
