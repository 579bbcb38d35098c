package sdk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	pb "github.com/exportd/exportd/sdk/proto/destination/v1"
)

// server adapts a Plugin to the gRPC service. It owns the destinations the
// daemon configured and the exports in flight, and it enforces the
// protocol's guarantees for every plugin: configurations match the schema
// (types, enums, ranges) and carry its defaults, files belong to the
// export's tables, a Commit names exactly the files that were Put, and no
// error quotes a destination's sensitive values.
type server struct {
	pb.UnimplementedDestinationServer
	plugin Plugin
	schema Schema
	log    *slog.Logger

	mu      sync.Mutex
	dests   map[string]configured
	exports map[string]*guardedExport
}

// configured is a destination the daemon configured.
type configured struct {
	Destination
	// secrets are the texts its errors must not quote (see scrub).
	secrets []string
}

func newServer(p Plugin, log *slog.Logger) (*server, error) {
	s := p.Schema()
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("plugin schema: %w", err)
	}
	return &server{
		plugin:  p,
		schema:  s,
		log:     log,
		dests:   map[string]configured{},
		exports: map[string]*guardedExport{},
	}, nil
}

func (s *server) Schema(context.Context, *pb.SchemaRequest) (*pb.SchemaResponse, error) {
	return schemaToPB(s.schema), nil
}

func (s *server) Configure(ctx context.Context, r *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	if r.GetDestination() == "" {
		return nil, toStatus(ConfigError("", errors.New("destination name is empty")))
	}
	cfg, err := ParseConfig(r.GetConfigJson())
	if err != nil {
		return nil, toStatus(ConfigError("", err))
	}
	hide := secrets(&s.schema, cfg)
	if err := s.schema.ValidateConfig(cfg); err != nil {
		return nil, toStatus(scrub(err, hide))
	}
	cfg = s.schema.WithDefaults(cfg)
	name := r.GetName()
	if name == "" {
		name = r.GetDestination()
	}
	info := DestinationInfo{Name: name, Account: r.GetAccount(), Logger: s.log.With("destination", name)}
	d, err := s.plugin.Configure(ctx, info, cfg)
	if err != nil {
		if KindOf(err) == KindRetryable {
			// A configuration that cannot be prepared is not transient.
			err = &Error{Kind: KindConfiguration, Attribute: AttributeOf(err), Platform: IsPlatformError(err), Err: err}
		}
		return nil, toStatus(scrub(err, hide))
	}
	s.mu.Lock()
	s.dests[r.GetDestination()] = configured{Destination: d, secrets: hide}
	s.mu.Unlock()
	s.log.Debug("destination configured", "destination", name, "key", r.GetDestination())
	return &pb.ConfigureResponse{}, nil
}

// Remove forgets a configured destination, so that what it holds can be
// collected. Exports begun before hold it themselves and go on.
func (s *server) Remove(_ context.Context, r *pb.RemoveRequest) (*pb.RemoveResponse, error) {
	s.mu.Lock()
	_, ok := s.dests[r.GetDestination()]
	delete(s.dests, r.GetDestination())
	s.mu.Unlock()
	if ok {
		s.log.Debug("destination removed", "key", r.GetDestination())
	}
	return &pb.RemoveResponse{}, nil
}

func (s *server) destination(name string) (configured, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.dests[name]
	if !ok {
		return configured{}, Permanent(fmt.Errorf("destination %q is not configured", name))
	}
	return d, nil
}

func (s *server) Check(ctx context.Context, r *pb.CheckRequest) (*pb.CheckResponse, error) {
	d, err := s.destination(r.GetDestination())
	if err != nil {
		return nil, toStatus(err)
	}
	msg, err := d.Check(ctx)
	if err != nil {
		return nil, toStatus(scrub(err, d.secrets))
	}
	return &pb.CheckResponse{Message: msg}, nil
}

func (s *server) Begin(ctx context.Context, r *pb.BeginRequest) (*pb.BeginResponse, error) {
	d, err := s.destination(r.GetDestination())
	if err != nil {
		return nil, toStatus(err)
	}
	info := exportInfoFromPB(r)
	if err := validateExportInfo(info); err != nil {
		return nil, toStatus(Permanent(err))
	}
	exp, err := d.Begin(ctx, info)
	if err != nil {
		return nil, toStatus(scrub(err, d.secrets))
	}
	handle := newHandle()
	g := newGuardedExport(exp, info.Tables)
	g.at, g.recommit, g.secrets = info.Time, info.Recommit, d.secrets
	s.mu.Lock()
	s.exports[handle] = g
	s.mu.Unlock()
	s.log.Debug("export begun", "destination", r.GetDestination(), "export_id", info.ID, "account", info.Account, "run_id", info.RunID)
	return &pb.BeginResponse{Handle: handle}, nil
}

func validateExportInfo(info ExportInfo) error {
	if info.Time.IsZero() {
		return errors.New("export time is not set")
	}
	if len(info.Tables) == 0 {
		return errors.New("export names no tables")
	}
	if !info.PreviousTime.IsZero() && !info.Time.Truncate(60e9).After(info.PreviousTime.Truncate(60e9)) {
		return fmt.Errorf("export time %s is not in a later minute than the previous export %s",
			info.Time.Format("2006-01-02T15:04:05.000000Z07:00"), info.PreviousTime.Format("2006-01-02T15:04:05.000000Z07:00"))
	}
	seen := map[string]bool{}
	for _, t := range info.Tables {
		if t == "" || seen[t] {
			return fmt.Errorf("table list has an empty or repeated name %q", t)
		}
		seen[t] = true
	}
	return nil
}

func (s *server) export(handle string) (*guardedExport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.exports[handle]
	if !ok {
		return nil, Permanent(fmt.Errorf("export handle %q is unknown (the plugin may have restarted)", handle))
	}
	return e, nil
}

func (s *server) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	e, err := s.export(r.GetHandle())
	if err != nil {
		return nil, toStatus(err)
	}
	f := fileFromPB(r.GetFile())
	if !filepath.IsAbs(f.Path) {
		return nil, toStatus(Permanent(fmt.Errorf("file path %q is not absolute", f.Path)))
	}
	return &pb.PutResponse{}, toStatus(scrub(e.Put(ctx, f), e.secrets))
}

func (s *server) Commit(ctx context.Context, r *pb.CommitRequest) (*pb.CommitResponse, error) {
	e, err := s.export(r.GetHandle())
	if err != nil {
		return nil, toStatus(err)
	}
	rc, err := e.Commit(ctx, manifestFromPB(r.GetTables()))
	if err != nil {
		return nil, toStatus(scrub(err, e.secrets))
	}
	s.forget(r.GetHandle())
	// The daemon logs the commit with its receipt: at info, this line would
	// only repeat it, at a cost in both processes for every export.
	s.log.Debug("export committed", "receipt", rc.Location)
	return &pb.CommitResponse{Location: rc.Location, Receipt: rc.Body}, nil
}

func (s *server) Abort(ctx context.Context, r *pb.AbortRequest) (*pb.AbortResponse, error) {
	s.mu.Lock()
	e, ok := s.exports[r.GetHandle()]
	s.mu.Unlock()
	if !ok {
		return &pb.AbortResponse{}, nil
	}
	err := e.Abort(ctx)
	s.forget(r.GetHandle())
	return &pb.AbortResponse{}, toStatus(scrub(err, e.secrets))
}

func (s *server) forget(handle string) {
	s.mu.Lock()
	delete(s.exports, handle)
	s.mu.Unlock()
}

func newHandle() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
