package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/sdk"
	"github.com/hashicorp/hcl/v2"
	hcljson "github.com/hashicorp/hcl/v2/json"
)

// Plugins is what the API needs of the daemon's plugins and of its HCL
// configuration. Implementations must be safe for concurrent use.
type Plugins interface {
	// Schema returns a plugin's schema, launching the plugin if needed.
	Schema(ctx context.Context, plugin string) (sdk.Schema, error)
	// Try configures a destination in its plugin, apart from any in use,
	// runs its Check when check is set, and releases it. It returns the
	// check's verdict; an error of the check itself is a *CheckError.
	Try(ctx context.Context, info sdk.DestinationInfo, plugin string, cfg sdk.Config, check bool) (string, error)
	// CheckStatic runs the Check of a destination of the HCL
	// configuration, as the daemon has it configured.
	CheckStatic(ctx context.Context, name string) (string, error)
	// Static reports whether the HCL configuration defines the name.
	Static(name string) bool
}

// CheckError is the error of a destination's Check, as Plugins.Try
// returns it: the configuration was accepted, the check failed.
type CheckError struct{ Err error }

func (e *CheckError) Error() string { return e.Err.Error() }
func (e *CheckError) Unwrap() error { return e.Err }

// Server answers the API's requests. Its fields are set once before use.
type Server struct {
	Store   *Store
	Plugins Plugins
	// Settings returns the daemon's current configuration and registry
	// keys, which a reload may change.
	Settings func() (*config.Config, *Keyring)
	Log      *slog.Logger
}

// Handle answers one request of operation op.
func (s *Server) Handle(ctx context.Context, op string, data []byte) Reply {
	switch op {
	case OpPut:
		return s.put(ctx, data)
	case OpGet:
		return s.get(ctx, data)
	case OpList:
		return s.list(ctx, data)
	case OpDelete:
		return s.delete(ctx, data)
	case OpCheck:
		return s.check(ctx, data)
	}
	return fail(CodeBadRequest, fmt.Errorf("unknown operation %q", op))
}

func fail(code string, err error) Reply { return Reply{Code: code, Error: err.Error()} }

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *Server) put(ctx context.Context, data []byte) Reply {
	var req PutRequest
	if err := decodeRequest(data, &req); err != nil {
		return fail(CodeBadRequest, err)
	}
	if err := checkName(req.Name); err != nil {
		return fail(CodeBadRequest, err)
	}
	if !event.ValidID(req.Plugin) {
		return fail(CodeBadRequest, fmt.Errorf("plugin %q: use letters, digits, _ and -", req.Plugin))
	}
	if len(req.Destination) == 0 {
		return fail(CodeBadRequest, errors.New("destination is missing: give the destination's attributes as a JSON object"))
	}
	conf, keys := s.Settings()
	if !conf.Registry.AllowsPlugin(req.Plugin) {
		return fail(CodePluginNotAllowed, fmt.Errorf("plugin %s may not be used by registered destinations (registry { plugins } of the daemon's configuration)", req.Plugin))
	}
	if s.Plugins.Static(req.Name) {
		return fail(CodeDefinedInHCL, fmt.Errorf("destination %s is defined in the daemon's HCL configuration; registered destinations need another name", req.Name))
	}
	schema, err := s.Plugins.Schema(ctx, req.Plugin)
	if err != nil {
		return fail(CodeUnknownPlugin, fmt.Errorf("plugin %s: %w", req.Plugin, err))
	}
	dec, reply, ok := decodePut(conf, req, data, schema)
	if !ok {
		return reply
	}
	rec, err := NewRecord(dec, schema, keys)
	if err != nil {
		return Reply{Code: CodeNoKey, Error: err.Error(), Attribute: sdk.AttributeOf(err)}
	}
	info := sdk.DestinationInfo{Name: req.Name, Account: dec.Destination.Account}
	verdict, err := s.Plugins.Try(ctx, info, req.Plugin, dec.Config, req.Check)
	if err != nil {
		code := CodeInvalid
		if ce := (*CheckError)(nil); errors.As(err, &ce) {
			code = CodeCheckFailed
		}
		msg := Redact(err.Error(), dec.Secrets)
		s.log().Info("destination registration refused", "destination", req.Name, "plugin", req.Plugin,
			"account", dec.Destination.Account, "attribute", sdk.AttributeOf(err), "error", msg)
		return Reply{Code: code, Error: fmt.Sprintf("destination %s (plugin %s): %s", req.Name, req.Plugin, msg),
			Attribute: sdk.AttributeOf(err), Platform: sdk.IsPlatformError(err)}
	}
	rec.UpdatedAt = time.Now().UTC()
	rev, err := s.Store.Put(ctx, rec, req.Revision)
	switch {
	case errors.Is(err, ErrRevisionMismatch):
		return fail(CodeRevisionMismatch, err)
	case err != nil:
		return fail(CodeUnavailable, err)
	}
	s.log().Info("destination registered", "destination", req.Name, "plugin", req.Plugin,
		"account", rec.Account, "revision", rev, "checked", req.Check)
	s.log().Debug("registered destination's configuration", "destination", req.Name, "config", config.Redact(schema, dec.Config))
	v := Entry{Record: rec, Revision: rev}.View()
	return Reply{Destination: &v, Check: verdict}
}

// decodePut decodes a put request's destination against the plugin's
// schema; on failure it returns the reply.
func decodePut(conf *config.Config, req PutRequest, data []byte, schema sdk.Schema) (Decoded, Reply, bool) {
	f, diags := hcljson.Parse(data, "request")
	if diags.HasErrors() {
		return Decoded{}, Reply{Code: CodeBadRequest, Error: "request is not valid JSON", Diagnostics: diagnostics(diags, nil)}, false
	}
	content, _, diags := f.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "destination"}}})
	if diags.HasErrors() || content == nil || len(content.Blocks) != 1 {
		return Decoded{}, Reply{Code: CodeBadRequest, Error: "destination must be one JSON object", Diagnostics: diagnostics(diags, nil)}, false
	}
	blk := content.Blocks[0]
	dec, diags := DecodeBody(conf, req.Plugin, req.Name, blk.Body, blk.DefRange, schema)
	if diags.HasErrors() {
		out := diagnostics(diags, blk.Body)
		r := Reply{Code: CodeInvalid, Diagnostics: out,
			Error: fmt.Sprintf("destination %s (plugin %s): %s", req.Name, req.Plugin, summarize(out))}
		for _, d := range out {
			if d.Attribute != "" {
				r.Attribute = d.Attribute
				break
			}
		}
		return Decoded{}, r, false
	}
	return dec, Reply{}, true
}

// summarize renders reply diagnostics on one line.
func summarize(ds []Diagnostic) string {
	var b bytes.Buffer
	for i, d := range ds {
		if i > 0 {
			b.WriteString("; ")
		}
		if d.Attribute != "" {
			b.WriteString(d.Attribute + ": ")
		}
		b.WriteString(d.Summary)
		if d.Detail != "" {
			b.WriteString(": " + d.Detail)
		}
	}
	return b.String()
}

func (s *Server) get(ctx context.Context, data []byte) Reply {
	var req NameRequest
	if err := decodeRequest(data, &req); err != nil {
		return fail(CodeBadRequest, err)
	}
	if err := checkName(req.Name); err != nil {
		return fail(CodeBadRequest, err)
	}
	e, err := s.Store.Get(ctx, req.Name)
	if errors.Is(err, ErrNotFound) {
		return s.notRegistered(req.Name, err)
	}
	if err != nil {
		return fail(CodeUnavailable, err)
	}
	v := e.View()
	return Reply{Destination: &v}
}

// notRegistered answers a request for a name the registry lacks, saying
// when the HCL configuration has it.
func (s *Server) notRegistered(name string, err error) Reply {
	if s.Plugins.Static(name) {
		return fail(CodeDefinedInHCL, fmt.Errorf("destination %s is defined in the daemon's HCL configuration, not registered", name))
	}
	return fail(CodeNotFound, err)
}

func (s *Server) list(ctx context.Context, data []byte) Reply {
	var req ListRequest
	if len(data) > 0 {
		if err := decodeRequest(data, &req); err != nil {
			return fail(CodeBadRequest, err)
		}
	}
	limit := req.Limit
	if limit <= 0 || limit > MaxListLimit {
		limit = MaxListLimit
	}
	all, err := s.Store.List(ctx)
	if err != nil {
		return fail(CodeUnavailable, err)
	}
	r := Reply{Destinations: []View{}}
	for _, e := range all {
		if e.Name <= req.After || (req.Account != "" && e.Account != req.Account) || (req.Plugin != "" && e.Plugin != req.Plugin) {
			continue
		}
		if len(r.Destinations) == limit {
			r.Next = r.Destinations[limit-1].Name
			break
		}
		r.Destinations = append(r.Destinations, e.View())
	}
	return r
}

func (s *Server) delete(ctx context.Context, data []byte) Reply {
	var req NameRequest
	if err := decodeRequest(data, &req); err != nil {
		return fail(CodeBadRequest, err)
	}
	if err := checkName(req.Name); err != nil {
		return fail(CodeBadRequest, err)
	}
	err := s.Store.Delete(ctx, req.Name, req.Revision)
	switch {
	case errors.Is(err, ErrNotFound):
		return s.notRegistered(req.Name, err)
	case errors.Is(err, ErrRevisionMismatch):
		return fail(CodeRevisionMismatch, err)
	case err != nil:
		return fail(CodeUnavailable, err)
	}
	s.log().Info("registered destination deleted", "destination", req.Name)
	return Reply{}
}

func (s *Server) check(ctx context.Context, data []byte) Reply {
	var req NameRequest
	if err := decodeRequest(data, &req); err != nil {
		return fail(CodeBadRequest, err)
	}
	if err := checkName(req.Name); err != nil {
		return fail(CodeBadRequest, err)
	}
	var verdict string
	var secrets []string
	e, err := s.Store.Get(ctx, req.Name)
	switch {
	case errors.Is(err, ErrNotFound) && s.Plugins.Static(req.Name):
		verdict, err = s.Plugins.CheckStatic(ctx, req.Name)
	case errors.Is(err, ErrNotFound):
		return fail(CodeNotFound, err)
	case err != nil:
		return fail(CodeUnavailable, err)
	default:
		// What is checked is what is stored, whether or not this daemon
		// has applied it yet.
		var dec Decoded
		dec, err = s.decodeEntry(ctx, e)
		secrets = dec.Secrets
		if err == nil {
			verdict, err = s.Plugins.Try(ctx, sdk.DestinationInfo{Name: e.Name, Account: e.Account}, e.Plugin, dec.Config, true)
		}
	}
	if err != nil {
		return Reply{Code: CodeCheckFailed, Error: fmt.Sprintf("destination %s: %s", req.Name, Redact(err.Error(), secrets)),
			Attribute: sdk.AttributeOf(err), Platform: sdk.IsPlatformError(err)}
	}
	return Reply{Check: verdict}
}

// decodeEntry decodes a stored registration against its plugin's schema.
func (s *Server) decodeEntry(ctx context.Context, e Entry) (Decoded, error) {
	schema, err := s.Plugins.Schema(ctx, e.Plugin)
	if err != nil {
		return Decoded{}, fmt.Errorf("plugin %s: %w", e.Plugin, err)
	}
	conf, keys := s.Settings()
	return Decode(conf, e, keys, schema)
}

// strictUnmarshal decodes JSON, refusing unknown fields and trailing data.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}
