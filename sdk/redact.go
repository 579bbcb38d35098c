package sdk

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
)

// redacted replaces a sensitive value in an error's text.
const redacted = "(sensitive)"

// minSecretLen is the shortest value that is scrubbed from errors:
// replacing "a" or "no" everywhere would mangle messages for nothing.
const minSecretLen = 4

// secrets lists the texts that must not leave the plugin in an error of
// one destination: the values of its sensitive attributes, and for a
// value that is a query string or a URL (a SAS token, a signed URL) the
// values of its parameters named like secrets (sig, signature, token,
// key, secret, password, credential), raw and escaped, longest first. The
// other parameters (a SAS token's expiry and permissions) say what is
// wrong, and stay.
func secrets(s *Schema, c Config) []string {
	var out []string
	add := func(v string) {
		if len(v) >= minSecretLen && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, a := range s.Attributes {
		if !a.Sensitive || !c.Has(a.Name) {
			continue
		}
		var values []string
		switch a.Type {
		case TypeString:
			values = []string{c.String(a.Name)}
		case TypeStringList:
			values = c.Strings(a.Name)
		case TypeStringMap:
			for _, v := range c.StringMap(a.Name) {
				values = append(values, v)
			}
		}
		for _, v := range values {
			add(v)
			add(url.QueryEscape(v))
			for _, p := range queryValues(v) {
				add(p)
				add(url.QueryEscape(p))
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// queryValues returns the values of the secret parameters of v read as a
// query string or as a URL with one.
func queryValues(v string) []string {
	if u, err := url.Parse(v); err == nil && u.RawQuery != "" {
		v = u.RawQuery
	}
	q, err := url.ParseQuery(strings.TrimPrefix(v, "?"))
	if err != nil {
		return nil
	}
	var out []string
	for name, vs := range q {
		if secretParameter(name) {
			out = append(out, vs...)
		}
	}
	return out
}

// secretParameter reports whether a query parameter's name says it holds
// a secret.
func secretParameter(name string) bool {
	name = strings.ToLower(name)
	for _, s := range []string{"sig", "token", "key", "secret", "password", "credential"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// scrub returns err with every secret replaced in its text, keeping its
// kind, attribute and platform flag. Cancellations pass unchanged.
func scrub(err error, secrets []string) error {
	if err == nil || len(secrets) == 0 || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		clean = strings.ReplaceAll(clean, s, redacted)
	}
	if clean == msg {
		return err
	}
	attr := AttributeOf(err)
	if attr != "" {
		clean = strings.TrimPrefix(clean, attr+": ")
	}
	return &Error{Kind: KindOf(err), Attribute: attr, Platform: IsPlatformError(err), Err: errors.New(clean)}
}
