package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
)

// Config is one destination's configuration: the attributes the operator
// set, already checked against the plugin's [Schema] (every key is a
// declared attribute of its declared type, inside its Enum and range, and
// every required attribute is present), with the schema's defaults filled
// in. Attributes that are unset and have no default are absent.
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

// with returns a copy of c with name set to raw.
func (c Config) with(name string, raw json.RawMessage) Config {
	values := maps.Clone(c.values)
	if values == nil {
		values = map[string]json.RawMessage{}
	}
	values[name] = raw
	return Config{values: values}
}

// Has reports whether the attribute is set, by the operator or by its
// default.
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
	return decodeJSON(raw, v) == nil
}

func decodeJSON(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}
