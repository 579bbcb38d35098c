package sdk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	pb "github.com/exportd/exportd/sdk/proto/destination/v1"
)

// server adapts a Plugin to the gRPC service. It owns the destinations the
// daemon configured and the exports in flight, and it enforces the
// protocol's guarantees for every plugin: configurations match the schema,
// files belong to the export's tables, and a Commit names exactly the
// files that were Put.
type server struct {
	pb.UnimplementedDestinationServer
	plugin Plugin
	schema Schema

	mu      sync.Mutex
	dests   map[string]Destination
	exports map[string]*guardedExport
}

func newServer(p Plugin) (*server, error) {
	s := p.Schema()
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("plugin schema: %w", err)
	}
	return &server{
		plugin:  p,
		schema:  s,
		dests:   map[string]Destination{},
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
	if err := s.schema.Check(cfg); err != nil {
		return nil, toStatus(err)
	}
	d, err := s.plugin.Configure(ctx, DestinationInfo{Name: r.GetDestination(), Account: r.GetAccount()}, cfg)
	if err != nil {
		if KindOf(err) == KindRetryable {
			// A configuration that cannot be prepared is not transient.
			err = ConfigError(AttributeOf(err), err)
		}
		return nil, toStatus(err)
	}
	s.mu.Lock()
	s.dests[r.GetDestination()] = d
	s.mu.Unlock()
	Logger().Debug("destination configured", "destination", r.GetDestination())
	return &pb.ConfigureResponse{}, nil
}

func (s *server) destination(name string) (Destination, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.dests[name]
	if !ok {
		return nil, Permanent(fmt.Errorf("destination %q is not configured", name))
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
		return nil, toStatus(err)
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
		return nil, toStatus(err)
	}
	handle := newHandle()
	g := newGuardedExport(exp, info.Tables)
	g.at, g.recommit = info.Time, info.Recommit
	s.mu.Lock()
	s.exports[handle] = g
	s.mu.Unlock()
	Logger().Debug("export begun", "destination", r.GetDestination(), "export_id", info.ID, "account", info.Account, "run_id", info.RunID)
	return &pb.BeginResponse{Handle: handle}, nil
}

func validateExportInfo(info ExportInfo) error {
	if info.Time.IsZero() {
		return errors.New("export time is not set")
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
	return &pb.PutResponse{}, toStatus(e.Put(ctx, f))
}

func (s *server) Commit(ctx context.Context, r *pb.CommitRequest) (*pb.CommitResponse, error) {
	e, err := s.export(r.GetHandle())
	if err != nil {
		return nil, toStatus(err)
	}
	rc, err := e.Commit(ctx, manifestFromPB(r.GetTables()))
	if err != nil {
		return nil, toStatus(err)
	}
	s.forget(r.GetHandle())
	// The daemon logs the commit with its receipt: at info, this line would
	// only repeat it, at a cost in both processes for every export.
	Logger().Debug("export committed", "receipt", rc.Location)
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
	return &pb.AbortResponse{}, toStatus(err)
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
