package host

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/internal/protocol"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
)

// ReattachEnv names the environment variable that makes the daemon attach
// to plugins running under a debugger instead of launching them. Its
// value, which a plugin started with sdk.WithDebug prints, is a JSON
// object of [Reattach] by plugin name.
const ReattachEnv = protocol.ReattachEnv

// Reattach says where a plugin that the host did not launch listens.
type Reattach struct {
	// Network is "unix" or "tcp", Address the socket's path or host:port.
	Network string `json:"network"`
	Address string `json:"address"`
	// PID is the plugin's process; the host notices when it ends.
	PID int `json:"pid"`
}

// ParseReattach decodes the value of the [ReattachEnv] variable.
func ParseReattach(value string) (map[string]Reattach, error) {
	m, err := protocol.ParseReattachEnv(value)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Reattach, len(m))
	for name, r := range m {
		out[name] = Reattach(r)
	}
	return out, nil
}

// Attach connects to a plugin already running, under a debugger, and
// fetches its schema. The connection is neither mutually authenticated
// nor encrypted (the plugin could not know the host's certificate), which
// is why debug mode is for a developer's machine. Kill closes the
// connection and leaves the plugin serving, for the next daemon to attach.
func Attach(ctx context.Context, r Reattach, logger *slog.Logger) (*Client, error) {
	addr, err := protocol.Reattach(r).Addr()
	if err != nil {
		return nil, fmt.Errorf("attach to plugin: %w", err)
	}
	c, err := connect(ctx, plugin.NewClient(attachConfig(&plugin.ReattachConfig{
		Protocol: plugin.ProtocolGRPC, ProtocolVersion: protocol.Version, Addr: addr, Pid: r.PID, Test: true,
	}, logger)))
	if err != nil {
		return nil, fmt.Errorf("attach to plugin at %s %s: %w", r.Network, r.Address, err)
	}
	c.attached = true
	return c, nil
}

// Start serves p from the calling process, through the same gRPC protocol
// and the same SDK guard as a plugin binary, and returns a Client of it:
// the plugin's code runs in the caller's process, where coverage and
// debuggers see it. The plugin logs to logger (nil discards). Kill stops
// serving; ctx bounds only the start.
func Start(ctx context.Context, p sdk.Plugin, logger *slog.Logger) (*Client, error) {
	logger = orDiscard(logger)
	srv, err := protocol.NewServer(p, logger)
	if err != nil {
		return nil, err
	}
	// Serving outlives ctx, which bounds the start, until Kill.
	serveCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	r, done, err := protocol.ServeAttached(serveCtx, srv, protocol.NewLogBridge(logger))
	if err != nil {
		stop()
		return nil, err
	}
	addr, err := r.Addr()
	if err != nil {
		stop()
		return nil, err
	}
	cfg := attachConfig(&plugin.ReattachConfig{
		Protocol: plugin.ProtocolGRPC, ProtocolVersion: protocol.Version, Addr: addr, Test: true,
		ReattachFunc: func() (runner.AttachedRunner, error) { return inProcess{done: done}, nil },
	}, logger)
	c, err := connect(ctx, plugin.NewClient(cfg))
	if err != nil {
		stop()
		<-done
		return nil, fmt.Errorf("serve plugin in-process: %w", err)
	}
	var once sync.Once
	c.attached = true
	c.stop = func() { once.Do(func() { stop(); <-done }) }
	return c, nil
}

// attachConfig is go-plugin's client configuration for a plugin the host
// did not launch. go-plugin's own records below Info are dropped: with no
// plugin output to forward (an in-process plugin logs directly, an
// attached one to its terminal), they are only its chatter, and some come
// from its goroutines after the client is gone.
func attachConfig(rc *plugin.ReattachConfig, logger *slog.Logger) *plugin.ClientConfig {
	quiet := slog.New(atLeast{orDiscard(logger).Handler(), slog.LevelInfo})
	return &plugin.ClientConfig{
		HandshakeConfig:  protocol.Handshake,
		Plugins:          plugin.PluginSet{protocol.PluginKey: &protocol.GRPCPlugin{}},
		Reattach:         rc,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           protocol.NewLogBridge(quiet),
		GRPCDialOptions:  protocol.DialOptions(),
	}
}

// atLeast is a handler that drops records below a level.
type atLeast struct {
	slog.Handler
	min slog.Level
}

func (h atLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h atLeast) WithAttrs(attrs []slog.Attr) slog.Handler {
	return atLeast{h.Handler.WithAttrs(attrs), h.min}
}

func (h atLeast) WithGroup(name string) slog.Handler {
	return atLeast{h.Handler.WithGroup(name), h.min}
}

// inProcess stands for a plugin served by this process: it has ended when
// its server has, and killing it is the server's Kill's business.
type inProcess struct{ done <-chan struct{} }

func (p inProcess) Wait(ctx context.Context) error {
	select {
	case <-p.done:
	case <-ctx.Done():
	}
	return nil
}

func (inProcess) Kill(context.Context) error { return nil }
func (inProcess) ID() string                 { return "in-process" }

func (inProcess) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

func (inProcess) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}
