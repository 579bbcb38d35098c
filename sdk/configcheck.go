package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ValidateConfig checks c against the schema: no unknown attributes,
// every required attribute present, every value of its declared type,
// inside its Enum and its range. It returns nil, or every problem joined
// (errors.Join), each a configuration error naming its attribute:
// [AttributeOf] gives the first one's. Values of sensitive attributes are
// never quoted.
//
// Defaults play no part: a value that is absent is not checked. See
// [Schema.WithDefaults].
func (s *Schema) ValidateConfig(c Config) error {
	var errs []error
	for _, name := range c.Names() {
		a := s.Attribute(name)
		if a == nil {
			errs = append(errs, ConfigError(name, errors.New("unknown attribute")))
			continue
		}
		if err := a.checkValue(c.values[name]); err != nil {
			errs = append(errs, ConfigError(name, err))
		}
	}
	for _, a := range s.Attributes {
		if a.Required && !c.Has(a.Name) {
			errs = append(errs, ConfigError(a.Name, errors.New("required attribute is missing")))
		}
	}
	return errors.Join(errs...)
}

// Check is the former name of [Schema.ValidateConfig].
//
// Deprecated: use ValidateConfig; Check means a connectivity test
// everywhere else ([Destination.Check]).
func (s *Schema) Check(c Config) error { return s.ValidateConfig(c) }

// WithDefaults returns c with the Default of every attribute that c leaves
// unset. The SDK calls it before [Plugin.Configure]; the daemon, to show
// what a destination will use.
func (s *Schema) WithDefaults(c Config) Config {
	for _, a := range s.Attributes {
		if c.Has(a.Name) {
			continue
		}
		if raw, err := a.defaultJSON(); err == nil && raw != nil {
			c = c.with(a.Name, raw)
		}
	}
	return c
}

// Constraint says in words what the attribute admits beyond its type
// ("one of a, b", "a whole number from 1 to 64"), or "" when nothing.
func (a *Attribute) Constraint() string {
	switch {
	case len(a.Enum) > 0 && a.Type == TypeStringList:
		return "each one of " + quoteList(a.Enum)
	case len(a.Enum) > 0:
		return "one of " + quoteList(a.Enum)
	case a.Min == nil && a.Max == nil:
		return ""
	}
	what := "a number"
	if a.Type == TypeInteger {
		what = "a whole number"
	}
	switch {
	case a.Min != nil && a.Max != nil:
		return fmt.Sprintf("%s from %s to %s", what, formatNumber(*a.Min), formatNumber(*a.Max))
	case a.Min != nil:
		return fmt.Sprintf("%s of at least %s", what, formatNumber(*a.Min))
	}
	return fmt.Sprintf("%s of at most %s", what, formatNumber(*a.Max))
}

// checkValue checks one JSON value against the attribute's type and
// constraints.
func (a *Attribute) checkValue(raw json.RawMessage) error {
	if !holds(raw, a.Type) {
		return fmt.Errorf("must be a %s", a.Type)
	}
	switch {
	case a.Type.numeric():
		var n json.Number
		_ = decodeJSON(raw, &n)
		f, err := n.Float64()
		if err != nil {
			return fmt.Errorf("must be a %s", a.Type)
		}
		outside := a.Min != nil && f < *a.Min || a.Max != nil && f > *a.Max
		if outside || a.Type == TypeInteger && f != math.Trunc(f) {
			want := a.Constraint()
			if want == "" {
				want = "a whole number"
			}
			return a.refuse(n.String(), want)
		}
	case len(a.Enum) > 0 && a.Type == TypeString:
		var v string
		_ = decodeJSON(raw, &v)
		if !slices.Contains(a.Enum, v) {
			return a.refuse(strconv.Quote(v), a.Constraint())
		}
	case len(a.Enum) > 0 && a.Type == TypeStringList:
		var vs []string
		_ = decodeJSON(raw, &vs)
		for _, v := range vs {
			if !slices.Contains(a.Enum, v) {
				return a.refuse(strconv.Quote(v), "one of "+quoteList(a.Enum))
			}
		}
	}
	return nil
}

// refuse says that value is not what the attribute admits, quoting the
// value unless the attribute is sensitive.
func (a *Attribute) refuse(value, want string) error {
	if a.Sensitive {
		return fmt.Errorf("the value is not %s", want)
	}
	return fmt.Errorf("%s is not %s", value, want)
}

func holds(raw json.RawMessage, t AttributeType) bool {
	var err error
	switch t {
	case TypeString:
		var v string
		err = decodeJSON(raw, &v)
	case TypeNumber, TypeInteger:
		// json.Number also accepts a quoted number; a string is not one.
		if bytes.HasPrefix(raw, []byte(`"`)) {
			return false
		}
		var v json.Number
		err = decodeJSON(raw, &v)
	case TypeBool:
		var v bool
		err = decodeJSON(raw, &v)
	case TypeStringList:
		var v []string
		err = decodeJSON(raw, &v)
	case TypeStringMap:
		var v map[string]string
		err = decodeJSON(raw, &v)
	default:
		return false
	}
	return err == nil
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
