package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
)

// Schema describes a plugin and the configuration its destinations take.
// The daemon decodes each destination's HCL block against Attributes, so an
// unknown or mistyped attribute, a value outside its Enum or range, is
// reported with its file, line and column before anything runs; the SDK
// checks the same again before [Plugin.Configure] runs.
type Schema struct {
	// Name is the plugin's name, the <name> in exportd-plugin-<name>.
	Name    string
	Version string

	Attributes []Attribute

	// Capabilities declares limits the daemon respects.
	Capabilities Capabilities
}

// Capabilities are what a plugin declares about itself for the daemon to
// take into account. The zero value declares nothing: no limit.
type Capabilities struct {
	// MaxObjectSize is the largest file, in bytes, that one Put delivers
	// (S3 takes 5 GiB in one PutObject). The daemon keeps every parquet
	// file of an account under the smallest limit among the account's
	// destinations, so a Put never receives a bigger file. 0: no limit.
	MaxObjectSize int64

	// CheckWrites says that [Destination.Check] may leave something at
	// the destination, such as a probe object, so that whoever runs Check
	// (exportd validate -check, a registration that checks before it
	// accepts) can say so first.
	CheckWrites bool
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
	// TypeInteger is a number that must be whole. In HCL it is a number.
	TypeInteger
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
	case TypeInteger:
		return "whole number"
	}
	return fmt.Sprintf("AttributeType(%d)", int(t))
}

func (t AttributeType) numeric() bool { return t == TypeNumber || t == TypeInteger }

// Attribute is one configuration attribute of a destination. Besides its
// name, type and description, it may declare a Default, the values it
// admits (Enum) and a range (Min, Max). The SDK enforces them before
// Configure runs and the daemon shows them in diagnostics, so a plugin
// checks by hand only what they cannot say (the syntax of a bucket name,
// say):
//
//	{Name: "acl", Type: sdk.TypeString, Default: "bucket-owner-full-control",
//		Enum: []string{"bucket-owner-full-control", "private", "none"},
//		Description: "Canned ACL sent with every object."},
//	{Name: "upload_concurrency", Type: sdk.TypeInteger, Default: 4,
//		Min: sdk.Bound(1), Max: sdk.Bound(64),
//		Description: "Most uploads in flight at once."},
//
// Descriptions need not repeat the default, the values or the range: the
// daemon and the plugin's documentation show them from the schema.
type Attribute struct {
	Name     string
	Type     AttributeType
	Required bool
	// Sensitive values are never logged or shown by the daemon, nor
	// quoted in the SDK's own errors.
	Sensitive   bool
	Description string

	// Default is the value an unset attribute takes, of the attribute's
	// type: a string, a bool, a number (any Go integer or float),
	// []string or map[string]string. The plugin's Configure sees it as
	// if the operator had set it ([Config.Has] is true). nil: no default.
	// A required attribute has none.
	Default any

	// Enum lists the values a string attribute, or each element of a
	// string list, may take. Empty: any value.
	Enum []string

	// Min and Max bound a number attribute, inclusive. nil: unbounded
	// (see [Bound]).
	Min, Max *float64

	// OperatorOnly marks an attribute that may be set in the operator's
	// configuration file only, never through the run-time registration
	// API: anything that reaches the daemon's own machine or identity (a
	// credentials file, an endpoint override, a tuning knob).
	OperatorOnly bool
}

// Bound returns a pointer to v, for [Attribute] Min and Max.
func Bound(v float64) *float64 { return &v }

// ReservedAttributes are consumed by the daemon itself in every destination
// block and may not be declared by a plugin.
var ReservedAttributes = []string{"account", "tables", "enabled"}

var attributeName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Validate reports the first problem with the schema itself: names,
// types, and constraints that contradict each other or the type.
func (s *Schema) Validate() error {
	if !attributeName.MatchString(s.Name) {
		return fmt.Errorf("plugin name %q must match %s", s.Name, attributeName)
	}
	if s.Capabilities.MaxObjectSize < 0 {
		return fmt.Errorf("max object size %d is negative", s.Capabilities.MaxObjectSize)
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
		if err := a.validate(); err != nil {
			return fmt.Errorf("attribute %q: %w", a.Name, err)
		}
	}
	return nil
}

func (a *Attribute) validate() error {
	if a.Type < TypeString || a.Type > TypeInteger {
		return fmt.Errorf("unknown type %d", a.Type)
	}
	if len(a.Enum) > 0 && a.Type != TypeString && a.Type != TypeStringList {
		return fmt.Errorf("enum values on a %s attribute: only strings and string lists take them", a.Type)
	}
	for i, v := range a.Enum {
		if slices.Contains(a.Enum[:i], v) {
			return fmt.Errorf("enum value %q is listed twice", v)
		}
	}
	if (a.Min != nil || a.Max != nil) && !a.Type.numeric() {
		return fmt.Errorf("a range on a %s attribute: only numbers take one", a.Type)
	}
	for _, b := range []*float64{a.Min, a.Max} {
		if b != nil && (math.IsNaN(*b) || math.IsInf(*b, 0)) {
			return errors.New("range bounds must be finite")
		}
	}
	if a.Min != nil && a.Max != nil && *a.Min > *a.Max {
		return fmt.Errorf("min %v is above max %v", *a.Min, *a.Max)
	}
	if a.Default == nil {
		return nil
	}
	if a.Required {
		return errors.New("a required attribute has no default")
	}
	raw, err := a.defaultJSON()
	if err != nil {
		return err
	}
	if err := a.checkValue(raw); err != nil {
		return fmt.Errorf("default: %w", err)
	}
	return nil
}

// defaultJSON is the Default's JSON encoding, nil without one.
func (a *Attribute) defaultJSON() (json.RawMessage, error) {
	if a.Default == nil {
		return nil, nil
	}
	raw, err := json.Marshal(a.Default)
	if err != nil {
		return nil, fmt.Errorf("default %v: %w", a.Default, err)
	}
	return raw, nil
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
