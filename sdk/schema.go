package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
)

// Schema describes a plugin and the configuration its destinations take.
// The daemon decodes each destination's HCL block against Attributes, so an
// unknown or mistyped attribute is reported with its file, line and column
// before anything runs.
type Schema struct {
	// Name is the plugin's name, the <name> in exportd-plugin-<name>.
	Name    string
	Version string

	Attributes []Attribute
}

// AttributeType is the type of a configuration attribute.
type AttributeType int

// The attribute types a schema may use.
const (
	TypeString AttributeType = iota + 1
	TypeNumber
	TypeBool
	TypeStringList
	TypeStringMap
)

func (t AttributeType) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeNumber:
		return "number"
	case TypeBool:
		return "bool"
	case TypeStringList:
		return "list(string)"
	case TypeStringMap:
		return "map(string)"
	}
	return fmt.Sprintf("AttributeType(%d)", int(t))
}

// Attribute is one configuration attribute of a destination.
type Attribute struct {
	Name     string
	Type     AttributeType
	Required bool
	// Sensitive values are never logged or shown by the daemon.
	Sensitive   bool
	Description string
}

// ReservedAttributes are consumed by the daemon itself in every destination
// block and may not be declared by a plugin.
var ReservedAttributes = []string{"account", "tables", "enabled"}

var attributeName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Validate reports the first problem with the schema itself.
func (s *Schema) Validate() error {
	if !attributeName.MatchString(s.Name) {
		return fmt.Errorf("plugin name %q must match %s", s.Name, attributeName)
	}
	seen := map[string]bool{}
	for _, r := range ReservedAttributes {
		seen[r] = true
	}
	for _, a := range s.Attributes {
		if !attributeName.MatchString(a.Name) {
			return fmt.Errorf("attribute name %q must match %s", a.Name, attributeName)
		}
		if seen[a.Name] {
			return fmt.Errorf("attribute %q is declared twice or is reserved", a.Name)
		}
		seen[a.Name] = true
		if a.Type < TypeString || a.Type > TypeStringMap {
			return fmt.Errorf("attribute %q has unknown type %d", a.Name, a.Type)
		}
	}
	return nil
}

// Attribute returns the attribute called name, or nil.
func (s *Schema) Attribute(name string) *Attribute {
	for i := range s.Attributes {
		if s.Attributes[i].Name == name {
			return &s.Attributes[i]
		}
	}
	return nil
}

// Config is one destination's configuration: the attributes the operator
// set, already checked against the plugin's [Schema] (every key is a
// declared attribute of its declared type, and every required attribute is
// present). Unset optional attributes are absent.
type Config struct {
	values map[string]json.RawMessage
}

// NewConfig builds a Config from plain Go values (string, bool, numbers,
// []string, map[string]string). It is meant for tests.
func NewConfig(values map[string]any) Config {
	raw, err := json.Marshal(values)
	if err != nil {
		panic(fmt.Sprintf("sdk.NewConfig: %v", err))
	}
	c, err := ParseConfig(raw)
	if err != nil {
		panic(fmt.Sprintf("sdk.NewConfig: %v", err))
	}
	return c
}

// ParseConfig decodes a JSON object into a Config without checking it
// against a schema.
func ParseConfig(data []byte) (Config, error) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return Config{}, fmt.Errorf("config is not a JSON object: %w", err)
	}
	for k, v := range m {
		if string(v) == "null" {
			delete(m, k)
		}
	}
	return Config{values: m}, nil
}

// JSON returns the configuration as a JSON object.
func (c Config) JSON() []byte {
	if c.values == nil {
		return []byte("{}")
	}
	b, _ := json.Marshal(c.values)
	return b
}

// Has reports whether the attribute was set.
func (c Config) Has(name string) bool {
	_, ok := c.values[name]
	return ok
}

// Names returns the names of the attributes that are set, sorted.
func (c Config) Names() []string {
	names := make([]string, 0, len(c.values))
	for k := range c.values {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// String returns a string attribute, or "" when unset.
func (c Config) String(name string) string {
	var s string
	c.decode(name, &s)
	return s
}

// Int returns a number attribute truncated to an integer, or def when unset.
func (c Config) Int(name string, def int) int {
	var n json.Number
	if !c.decode(name, &n) {
		return def
	}
	if i, err := n.Int64(); err == nil {
		return int(i)
	}
	f, _ := n.Float64()
	return int(f)
}

// Float returns a number attribute, or def when unset.
func (c Config) Float(name string, def float64) float64 {
	var n json.Number
	if !c.decode(name, &n) {
		return def
	}
	f, _ := n.Float64()
	return f
}

// Bool returns a bool attribute, or def when unset.
func (c Config) Bool(name string, def bool) bool {
	b := def
	c.decode(name, &b)
	return b
}

// Strings returns a list attribute, or nil when unset.
func (c Config) Strings(name string) []string {
	var s []string
	c.decode(name, &s)
	return s
}

// StringMap returns a map attribute, or nil when unset.
func (c Config) StringMap(name string) map[string]string {
	var m map[string]string
	c.decode(name, &m)
	return m
}

func (c Config) decode(name string, v any) bool {
	raw, ok := c.values[name]
	if !ok {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v) == nil
}

// Check verifies c against the schema: no unknown attributes, every
// required attribute present, every value of its declared type. Its errors
// are configuration errors naming the attribute.
func (s *Schema) Check(c Config) error {
	for _, name := range c.Names() {
		a := s.Attribute(name)
		if a == nil {
			return ConfigError(name, errors.New("unknown attribute"))
		}
		if !c.holds(name, a.Type) {
			return ConfigError(name, fmt.Errorf("must be a %s", a.Type))
		}
	}
	for _, a := range s.Attributes {
		if a.Required && !c.Has(a.Name) {
			return ConfigError(a.Name, errors.New("required attribute is missing"))
		}
	}
	return nil
}

func (c Config) holds(name string, t AttributeType) bool {
	var ok bool
	switch t {
	case TypeString:
		var v string
		ok = c.decode(name, &v)
	case TypeNumber:
		// json.Number also accepts a quoted number; a string is not one.
		var v json.Number
		ok = !bytes.HasPrefix(c.values[name], []byte(`"`)) && c.decode(name, &v)
	case TypeBool:
		var v bool
		ok = c.decode(name, &v)
	case TypeStringList:
		var v []string
		ok = c.decode(name, &v)
	case TypeStringMap:
		var v map[string]string
		ok = c.decode(name, &v)
	}
	return ok
}
