package protocol

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"

	pb "github.com/exportd/exportd/sdk/proto/destination/v1"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// Reattach says where a plugin that a host did not launch listens: a
// plugin under a debugger, or one served in-process. It is what the
// reattach environment variable holds, by plugin name, as JSON.
type Reattach struct {
	Network string `json:"network"`
	Address string `json:"address"`
	PID     int    `json:"pid"`
}

// Addr is the listening address as a net.Addr.
func (r Reattach) Addr() (net.Addr, error) {
	switch r.Network {
	case "unix":
		return net.ResolveUnixAddr("unix", r.Address)
	case "tcp":
		return net.ResolveTCPAddr("tcp", r.Address)
	}
	return nil, fmt.Errorf("network %q: want unix or tcp", r.Network)
}

// ParseReattachEnv decodes the reattach environment variable's value:
// a JSON object of Reattach by plugin name.
func ParseReattachEnv(value string) (map[string]Reattach, error) {
	var m map[string]Reattach
	if err := json.Unmarshal([]byte(value), &m); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object of plugins: %w", ReattachEnv, err)
	}
	for name, r := range m {
		if _, err := r.Addr(); err != nil || r.PID <= 0 {
			return nil, fmt.Errorf("%s: plugin %s: want a network, an address and a pid", ReattachEnv, name)
		}
	}
	return m, nil
}

// ServeAttached serves srv for a host that attaches to it, from this
// process, without the go-plugin handshake (no magic cookie, no mutual
// TLS: the host could not pass its certificate). It returns where the
// plugin listens once it does; serving stops when ctx is done, and done is
// closed then.
func ServeAttached(ctx context.Context, srv pb.DestinationServer, logger hclog.Logger) (r Reattach, done <-chan struct{}, err error) {
	ready := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	go plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         plugin.PluginSet{PluginKey: &GRPCPlugin{Impl: srv}},
		GRPCServer:      NewGRPCServer,
		Logger:          logger,
		Test:            &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: ready, CloseCh: closed},
	})
	select {
	case rc := <-ready:
		return Reattach{Network: rc.Addr.Network(), Address: rc.Addr.String(), PID: os.Getpid()}, closed, nil
	case <-closed:
		return Reattach{}, nil, errors.New("the plugin server ended before it listened")
	}
}
