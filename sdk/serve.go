package sdk

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	pb "github.com/exportd/exportd/sdk/proto/destination/v1"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ProtocolVersion is the version of the destination protocol this package
// speaks. The daemon refuses plugins built for another version.
const ProtocolVersion = 1

// PluginPrefix starts the file name of every destination plugin binary.
const PluginPrefix = "exportd-plugin-"

// Handshake is the go-plugin handshake shared by the daemon and plugins.
// The cookie is not a secret: it stops a plugin binary from being run by
// hand, and says what it is when someone tries.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "EXPORTD_DESTINATION_PLUGIN",
	MagicCookieValue: "7d1f0c2a-exportd-destination",
}

// pluginName is the key under which the destination service is dispensed.
const pluginName = "destination"

// grpcPlugin is the go-plugin glue for the destination service.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl *server
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterDestinationServer(s, p.impl)
	return nil
}

func (p *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pb.NewDestinationClient(c), nil
}

// Serve runs p as a destination plugin. A plugin's main function calls it
// and nothing else; it returns when the daemon stops the plugin. Run by
// hand, the binary explains that it is a plugin and exits with status 1.
func Serve(p Plugin) {
	srv, err := newServer(p)
	if err != nil {
		fmt.Fprintf(os.Stderr, "exportd plugin: %v\n", err)
		os.Exit(1)
	}
	nameProcess()
	go exitWithParent(os.Getppid(), time.Second)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         plugin.PluginSet{pluginName: &grpcPlugin{impl: srv}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize))
			return grpc.NewServer(opts...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:       "go-plugin",
			Level:      hclog.Info,
			Output:     stderr,
			JSONFormat: true,
		}),
	})
}

// nameProcess gives the process its executable's name again. The daemon
// starts a plugin from an open file (/proc/self/fd/3), which Linux takes
// as the process's name ("3"); ps, top and the daemon's own tests look
// for exportd-plugin-*. Linux keeps 15 bytes of it, as it would have.
func nameProcess() {
	if runtime.GOOS != "linux" || len(os.Args) == 0 {
		return
	}
	name := filepath.Base(os.Args[0])
	if len(name) > 15 {
		name = name[:15]
	}
	_ = os.WriteFile("/proc/self/comm", []byte(name), 0)
}

// exitWithParent ends the plugin when the daemon that started it is gone.
// A daemon killed with SIGKILL cannot stop its plugins, and go-plugin
// would leave them serving no one forever; the orphan notices that it
// was handed to another parent and exits.
func exitWithParent(parent int, every time.Duration) {
	for range time.Tick(every) {
		if os.Getppid() != parent {
			Logger().Warn("the exportd daemon that started this plugin is gone; exiting")
			os.Exit(1)
		}
	}
}
