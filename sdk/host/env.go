package host

import (
	"fmt"
	"strings"
)

// baseEnv names the variables every plugin process inherits from the
// daemon: what any program needs to find commands, its home, temporary
// files, the time zone and the language. Everything else (database DSNs,
// NATS credentials, cloud identities) reaches a plugin only when its
// launch names it.
var baseEnv = []string{"PATH", "HOME", "TMPDIR", "TZ", "LANG"}

// CheckEnvPattern reports whether p can name inherited environment
// variables: a variable's name (AWS_PROFILE), or a prefix followed by a
// star (AWS_*). A lone star, which would pass on every secret, is refused.
func CheckEnvPattern(p string) error {
	name, star := strings.CutSuffix(p, "*")
	switch {
	case name == "" && star:
		return fmt.Errorf("%q would pass the daemon's whole environment on: name the variables, or a prefix such as \"AWS_*\"", p)
	case name == "":
		return fmt.Errorf("empty variable name")
	}
	for i, r := range name {
		if r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9' {
			continue
		}
		return fmt.Errorf("%q is not a variable name, or a prefix followed by \"*\"", p)
	}
	return nil
}

// matchEnv reports whether the variable name is matched by one of the
// patterns.
func matchEnv(name string, patterns []string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(name, prefix) {
				return true
			}
		} else if name == p {
			return true
		}
	}
	return false
}

// pluginEnviron selects, from the daemon's environment environ (NAME=value
// pairs), the variables a plugin inherits: those of baseEnv and those
// matched by inherit.
func pluginEnviron(environ, inherit []string) ([]string, error) {
	for _, p := range inherit {
		if err := CheckEnvPattern(p); err != nil {
			return nil, err
		}
	}
	var env []string
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if ok && (matchEnv(name, baseEnv) || matchEnv(name, inherit)) {
			env = append(env, kv)
		}
	}
	return env, nil
}
