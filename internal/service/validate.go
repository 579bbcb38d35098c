package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/exportd/exportd/internal/registry"
	"github.com/exportd/exportd/internal/trigger"
	"github.com/hashicorp/hcl/v2"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrRegistryUnreachable means the registry could not be read to check a
// configuration against it.
var ErrRegistryUnreachable = errors.New("registry not checked")

// CheckRegistry reads the registry of the NATS the configuration names
// and returns an error diagnostic for each destination of the file whose
// name is registered too. It starts no embedded server: with embedded
// NATS it reads the running daemon's through nats { listen }, and returns
// ErrRegistryUnreachable when it cannot reach one.
func (s *Service) CheckRegistry(ctx context.Context) (hcl.Diagnostics, error) {
	cfg := s.Config
	opts := trigger.ConnectOptions{Config: cfg.NATS, Name: "exportd validate", Logger: s.Log}
	switch {
	case cfg.NATS.URL != "":
	case cfg.NATS.Listen != "":
		opts.Config.URL = "nats://" + cfg.NATS.Listen
	default:
		return nil, fmt.Errorf("%w: the embedded NATS server has no listen address to reach it by", ErrRegistryUnreachable)
	}
	nc, err := trigger.Connect(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRegistryUnreachable, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRegistryUnreachable, err)
	}
	store, ok, err := registry.Bind(ctx, js, cfg.NATS.KVPrefix)
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("%w: %v", ErrRegistryUnreachable, err)
		}
		return nil, err
	}
	entries, err := store.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRegistryUnreachable, err)
	}
	registered := map[string]registry.Entry{}
	for _, e := range entries {
		registered[e.Name] = e
	}
	var diags hcl.Diagnostics
	for _, d := range cfg.Destinations {
		if r, dup := registered[d.Name]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Destination also registered",
				Detail: fmt.Sprintf("A destination named %q is registered at run time too (plugin %s, account %s); names are unique across the file and the registry: rename this one or delete the registration.",
					d.Name, r.Plugin, r.Account),
				Subject: d.DeclRange.Ptr(),
			})
		}
	}
	return diags, nil
}
