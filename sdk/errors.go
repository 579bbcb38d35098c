package sdk

import (
	"errors"
	"fmt"
)

// ErrorKind classifies an error so that the daemon knows what to do next.
// Its values are those of the protocol's ErrorKind.
type ErrorKind int

const (
	// KindRetryable errors may go away if the export is tried again later:
	// throttling, server errors, lost connections, a crashed plugin.
	KindRetryable ErrorKind = iota + 1
	// KindPermanent errors will recur however often the export is tried.
	KindPermanent
	// KindConfiguration errors mean the destination's configuration or the
	// customer's setup is wrong; the message says what to fix.
	KindConfiguration
)

func (k ErrorKind) String() string {
	switch k {
	case KindRetryable:
		return "retryable"
	case KindPermanent:
		return "permanent"
	case KindConfiguration:
		return "configuration"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// Error is an error with a kind, and for configuration errors the
// attribute at fault. It survives the trip across the plugin protocol.
type Error struct {
	Kind      ErrorKind
	Attribute string
	// Platform is set on a configuration error of the platform's own
	// identity rather than of the destination's attributes (see
	// [PlatformError]).
	Platform bool
	Err      error
}

func (e *Error) Error() string {
	if e.Attribute != "" {
		return fmt.Sprintf("%s: %v", e.Attribute, e.Err)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable marks err as retryable. It returns nil for a nil err.
func Retryable(err error) error { return wrapKind(KindRetryable, "", err) }

// Permanent marks err as permanent. It returns nil for a nil err.
func Permanent(err error) error { return wrapKind(KindPermanent, "", err) }

// ConfigError marks err as a configuration error of attribute attr (which
// may be empty when no single attribute is at fault). It returns nil for a
// nil err.
func ConfigError(attr string, err error) error { return wrapKind(KindConfiguration, attr, err) }

// PlatformError marks err as a configuration error of the platform's own
// identity: the credentials that the daemon's environment gives the plugin
// (an instance role, a credentials file the operator set, a managed
// identity) are missing, refused or lack a grant of the platform's own.
// The operator must fix it, not the customer. attr names the attribute
// that selects the identity (a profile, a credentials file) when there is
// one, and is empty when the daemon's environment alone provides it. It
// returns nil for a nil err.
func PlatformError(attr string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: KindConfiguration, Attribute: attr, Platform: true, Err: err}
}

// IsPlatformError reports whether err is, or wraps, a [PlatformError].
func IsPlatformError(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Platform
}

// Errorf is shorthand for an error of kind with a formatted message.
func Errorf(kind ErrorKind, format string, args ...any) error {
	return &Error{Kind: kind, Err: fmt.Errorf(format, args...)}
}

func wrapKind(kind ErrorKind, attr string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: kind, Attribute: attr, Err: err}
}

// KindOf returns the kind of the outermost classified error in err's chain,
// and KindRetryable for unclassified errors.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) && e.Kind != 0 {
		return e.Kind
	}
	return KindRetryable
}

// AttributeOf returns the configuration attribute named by err, if any.
func AttributeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Attribute
	}
	return ""
}

// IsRetryable reports whether err is worth retrying.
func IsRetryable(err error) bool { return err != nil && KindOf(err) == KindRetryable }
