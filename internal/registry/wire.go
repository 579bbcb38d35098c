package registry

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/exportd/exportd/internal/event"
	"github.com/hashicorp/hcl/v2"
)

// SubjectPrefix starts the API's request subjects:
// exportd.api.destinations.<operation>.
const SubjectPrefix = "exportd.api.destinations."

// QueueGroup is the queue group the daemons answer the API in: one of
// them answers each request.
const QueueGroup = "exportd-api"

// The API's operations, the last token of their subjects.
const (
	OpPut    = "put"
	OpGet    = "get"
	OpList   = "list"
	OpDelete = "delete"
	OpCheck  = "check"
)

// Operations lists the API's operations.
var Operations = []string{OpPut, OpGet, OpList, OpDelete, OpCheck}

// MaxRequestSize bounds a request body.
const MaxRequestSize = 64 << 10

// PutRequest registers a destination, or replaces its registration.
type PutRequest struct {
	Plugin string `json:"plugin"`
	Name   string `json:"name"`
	// Destination is the destination's body, as a JSON object: account,
	// optionally tables and enabled, and the plugin's attributes, exactly
	// what a destination block of the HCL file holds.
	Destination json.RawMessage `json:"destination"`
	// Check runs the plugin's Check (s3legacy: assume the role) before the
	// registration is stored; a failing check refuses it.
	Check bool `json:"check,omitempty"`
	// Revision, when set, makes the write conditional: 0 means the name
	// must not be registered yet, n that the registration must still be at
	// revision n.
	Revision *uint64 `json:"revision,omitempty"`
}

// NameRequest names a destination: get, delete and check.
type NameRequest struct {
	Name string `json:"name"`
	// Revision, for delete only, makes it conditional.
	Revision *uint64 `json:"revision,omitempty"`
}

// ListRequest lists registered destinations, sorted by name. Every field
// is optional.
type ListRequest struct {
	Account string `json:"account,omitempty"`
	Plugin  string `json:"plugin,omitempty"`
	// After continues a list after this name (a reply's next).
	After string `json:"after,omitempty"`
	// Limit bounds the destinations of one reply: default and at most
	// MaxListLimit.
	Limit int `json:"limit,omitempty"`
}

// MaxListLimit bounds the destinations of one list reply.
const MaxListLimit = 500

// Reply answers every request. Error is empty on success.
type Reply struct {
	Error string `json:"error,omitempty"`
	// Code classifies an error (see the Code values).
	Code string `json:"code,omitempty"`
	// Attribute names the attribute at fault, when there is one.
	Attribute string `json:"attribute,omitempty"`
	// Platform is set when the platform's own identity (which the
	// operator sets up) is at fault, not the destination's settings.
	Platform    bool         `json:"platform,omitempty"`
	Diagnostics []Diagnostic `json:"diagnostics,omitempty"`

	Destination  *View  `json:"destination,omitempty"`
	Destinations []View `json:"destinations,omitempty"`
	// Next, in a list reply, is set when more destinations follow: pass it
	// as after.
	Next string `json:"next,omitempty"`
	// Check is the plugin's verdict of a successful check.
	Check string `json:"check,omitempty"`
}

// Error codes of a Reply.
const (
	CodeBadRequest       = "bad_request"        // not a request of the operation's shape
	CodeInvalid          = "invalid"            // the destination's configuration is refused
	CodeDefinedInHCL     = "defined_in_hcl"     // the name belongs to the HCL configuration
	CodePluginNotAllowed = "plugin_not_allowed" // registry { plugins } leaves the plugin out
	CodeUnknownPlugin    = "unknown_plugin"     // the plugin is not installed or does not start
	CodeNoKey            = "no_key"             // a sensitive attribute, and no registry key
	CodeCheckFailed      = "check_failed"       // the plugin's Check failed
	CodeNotFound         = "not_found"          // no such registered destination
	CodeRevisionMismatch = "revision_mismatch"  // the registration changed meanwhile
	CodeUnavailable      = "unavailable"        // the registry could not be read or written
)

// Diagnostic is one problem with a request, as HCL reports it: the line
// and column point into the request body.
type Diagnostic struct {
	Summary   string `json:"summary"`
	Detail    string `json:"detail,omitempty"`
	Attribute string `json:"attribute,omitempty"`
	Line      int    `json:"line,omitempty"`
	Column    int    `json:"column,omitempty"`
}

// decodeRequest parses a request body of the operation's shape; unknown
// fields are refused.
func decodeRequest(data []byte, v any) error {
	if len(data) > MaxRequestSize {
		return fmt.Errorf("request is %d bytes, more than the %d allowed", len(data), MaxRequestSize)
	}
	if err := strictUnmarshal(data, v); err != nil {
		return fmt.Errorf("request is not JSON of the expected shape: %w", err)
	}
	return nil
}

// checkName refuses a destination name that is not an id.
func checkName(name string) error {
	if name == "" {
		return errors.New("name is missing")
	}
	if !event.ValidID(name) {
		return fmt.Errorf("name %q: use letters, digits, _ and -, at most 128", name)
	}
	return nil
}

// diagnostics converts HCL diagnostics for a reply, naming the attribute
// of body each lies in.
func diagnostics(diags hcl.Diagnostics, body hcl.Body) []Diagnostic {
	var attrs hcl.Attributes
	if body != nil {
		attrs, _ = body.JustAttributes()
	}
	var out []Diagnostic
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		o := Diagnostic{Summary: d.Summary, Detail: d.Detail}
		if d.Subject != nil {
			o.Line, o.Column = d.Subject.Start.Line, d.Subject.Start.Column
			for name, a := range attrs {
				if a.Range.ContainsOffset(d.Subject.Start.Byte) {
					o.Attribute = name
				}
			}
		}
		out = append(out, o)
	}
	return out
}
