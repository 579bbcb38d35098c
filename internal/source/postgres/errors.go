package postgres

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"

	"github.com/exportd/exportd/sdk"
	"github.com/jackc/pgx/v5/pgconn"
)

// secrets scrubs a DSN's password out of error messages. pgx redacts the
// connection strings it prints, but errors from deeper layers (URL
// parsing, TLS, a server echoing a parameter) are not all under its
// control, so every error leaving this package goes through scrub.
type secrets struct {
	words []string // literal secrets: the password, the whole DSN
}

var (
	keywordPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]+)`)
	urlPassword     = regexp.MustCompile(`(://[^:/@\s]*:)[^@\s]*@`)
)

func newSecrets(dsn, password string) secrets {
	var s secrets
	for _, w := range []string{dsn, password} {
		if len(w) >= 3 {
			s.words = append(s.words, w)
		}
	}
	return s
}

func (s secrets) scrub(msg string) string {
	for _, w := range s.words {
		msg = strings.ReplaceAll(msg, w, "xxxxx")
	}
	msg = keywordPassword.ReplaceAllString(msg, "${1}xxxxx")
	return urlPassword.ReplaceAllString(msg, "${1}xxxxx@")
}

// scrubbedError carries a scrubbed message and, for classification by
// callers, the PostgreSQL error or context error it came from; neither
// holds connection settings, unlike pgconn.ConnectError, which keeps the
// whole configuration (password included) and is therefore not kept.
type scrubbedError struct {
	msg   string
	cause error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.cause }

// fail turns an error met while doing what into a classified, scrubbed
// error: what the job engine needs to decide whether to retry.
func (s secrets) fail(what string, err error) error {
	if err == nil {
		return nil
	}
	se := &scrubbedError{msg: s.scrub(what + ": " + err.Error())}
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr):
		se.cause = pgErr
	case errors.Is(err, context.Canceled):
		se.cause = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		se.cause = context.DeadlineExceeded
	}
	kind, attr := classify(err)
	return &sdk.Error{Kind: kind, Attribute: attr, Err: se}
}

// classify decides what an error from the server or the connection means
// for the export. Anything the server or network might get over (lost
// connections, shutdowns, timeouts, conflicts, resource exhaustion) is
// retryable; a wrong login or database is the configuration's fault;
// missing objects and missing privileges recur until someone acts, so
// they are permanent.
func classify(err error) (sdk.ErrorKind, string) {
	var ke *sdk.Error
	if errors.As(err, &ke) && ke.Kind != 0 {
		return ke.Kind, ke.Attribute
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		code := pgErr.Code
		switch {
		case strings.HasPrefix(code, "28"), code == "3D000":
			// invalid authorization, unknown database
			return sdk.KindConfiguration, "dsn"
		case code == "57014", code == "55P03":
			// statement timeout (or cancel), lock timeout
			return sdk.KindRetryable, ""
		case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "57"),
			strings.HasPrefix(code, "53"), strings.HasPrefix(code, "40"),
			strings.HasPrefix(code, "58"), strings.HasPrefix(code, "XX"):
			// connection, operator intervention, resources, conflicts,
			// system and internal errors
			return sdk.KindRetryable, ""
		case code == "42P01", code == "3F000", code == "42501":
			// undefined table, undefined schema, insufficient privilege
			return sdk.KindPermanent, ""
		case strings.HasPrefix(code, "42"):
			// other syntax or access errors: a table's query is wrong
			return sdk.KindConfiguration, "table"
		case strings.HasPrefix(code, "22"):
			// data exceptions recur on the same data
			return sdk.KindPermanent, ""
		}
		return sdk.KindRetryable, ""
	}
	var tlsErr *tls.CertificateVerificationError
	var authErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidErr x509.CertificateInvalidError
	if errors.As(err, &tlsErr) || errors.As(err, &authErr) || errors.As(err, &hostErr) || errors.As(err, &invalidErr) {
		// The server's certificate does not verify against the DSN's TLS
		// settings: someone must fix one or the other.
		return sdk.KindConfiguration, "dsn"
	}
	var netErr net.Error
	switch {
	case errors.As(err, &netErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		pgconn.Timeout(err), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return sdk.KindRetryable, ""
	}
	var pce *pgconn.ParseConfigError
	if errors.As(err, &pce) {
		return sdk.KindConfiguration, "dsn"
	}
	return sdk.KindRetryable, ""
}

// permanentf is a permanent error about the data or the database's
// objects: retrying reads the same thing again.
func permanentf(format string, args ...any) error {
	return sdk.Permanent(fmt.Errorf(format, args...))
}
