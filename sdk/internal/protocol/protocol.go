// Package protocol holds what both sides of the destination protocol
// share inside the SDK: the go-plugin handshake and glue, message limits,
// the mapping of error kinds onto gRPC codes, and serving a plugin for a
// host that attaches to it (debug mode, in-process plugins).
//
// It is internal to the SDK: plugin authors use package sdk, hosts
// package sdk/host.
package protocol

import (
	"context"
	"log/slog"

	pb "github.com/exportd/exportd/sdk/proto/destination/v1"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// Version is the version of the destination protocol.
const Version = 1

// Handshake is the go-plugin handshake shared by the daemon and plugins.
// The cookie is not a secret: it stops a plugin binary from being run by
// hand, and says what it is when someone tries.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  Version,
	MagicCookieKey:   "EXPORTD_DESTINATION_PLUGIN",
	MagicCookieValue: "7d1f0c2a-exportd-destination",
}

// PluginKey is the key under which the destination service is dispensed.
const PluginKey = "destination"

// MaxMessageSize bounds every gRPC message in either direction. Messages
// carry metadata only (files travel by path), so this is generous.
const MaxMessageSize = 4 << 20

// ReattachEnv names the daemon's environment variable that makes it attach
// to plugins already running (under a debugger) instead of launching them.
const ReattachEnv = "EXPORTD_REATTACH_PLUGINS"

// GRPCPlugin is the go-plugin glue for the destination service. A host
// leaves Impl nil.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl pb.DestinationServer
}

// GRPCServer registers the destination service.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterDestinationServer(s, p.Impl)
	return nil
}

// GRPCClient returns the destination service's client.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pb.NewDestinationClient(c), nil
}

// NewGRPCServer is the plugin side's gRPC server, with the message limits.
func NewGRPCServer(opts []grpc.ServerOption) *grpc.Server {
	opts = append(opts, grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize))
	return grpc.NewServer(opts...)
}

// DialOptions are the host side's gRPC options, with the message limits.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(MaxMessageSize),
		grpc.MaxCallSendMsgSize(MaxMessageSize),
	)}
}

// Codes are the gRPC codes of the error kinds, by wire kind. Kinds travel
// in an ErrorDetail; the code is for callers that read only the status.
var Codes = map[pb.ErrorKind]codes.Code{
	pb.ErrorKind_ERROR_KIND_RETRYABLE:     codes.Unavailable,
	pb.ErrorKind_ERROR_KIND_PERMANENT:     codes.FailedPrecondition,
	pb.ErrorKind_ERROR_KIND_CONFIGURATION: codes.InvalidArgument,
}

// NewServer builds the plugin side's gRPC service for a plugin, which
// must be an sdk.Plugin, logging to log. Package sdk sets it when it is
// initialised, so that package sdk/host can serve a plugin in-process
// without sdk exporting its server; sdk/host imports sdk, so it is always
// set by the time a host uses it.
var NewServer func(plugin any, log *slog.Logger) (pb.DestinationServer, error)
