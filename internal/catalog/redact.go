package catalog

import (
	"errors"

	"github.com/exportd/exportd/internal/registry"
	"github.com/exportd/exportd/sdk"
)

// sensitiveValues lists cfg's sensitive values, for redacting errors.
func sensitiveValues(schema sdk.Schema, cfg sdk.Config) []string {
	return registry.Secrets(schema, cfg)
}

// redactErr replaces secrets in err's text, keeping its kind and
// attribute for errors.As.
func redactErr(err error, secrets []string) error {
	if err == nil || len(secrets) == 0 {
		return err
	}
	msg := registry.Redact(err.Error(), secrets)
	if msg == err.Error() {
		return err
	}
	var se *sdk.Error
	if errors.As(err, &se) {
		return &sdk.Error{Kind: se.Kind, Attribute: se.Attribute, Platform: se.Platform, Err: errors.New(registry.Redact(se.Err.Error(), secrets))}
	}
	return errors.New(msg) // unclassified: retryable, like the original
}
