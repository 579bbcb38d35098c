package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/exportd/exportd/sdk/internal/protocol"
	pb "github.com/exportd/exportd/sdk/proto/destination/v1"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// ProtocolVersion is the version of the destination protocol this package
// speaks. The daemon refuses plugins built for another version.
const ProtocolVersion = 1

// PluginPrefix starts the file name of every destination plugin binary.
const PluginPrefix = "exportd-plugin-"

func init() {
	protocol.NewServer = func(p any, log *slog.Logger) (pb.DestinationServer, error) {
		plugin, ok := p.(Plugin)
		if !ok {
			return nil, fmt.Errorf("%T is not an sdk.Plugin", p)
		}
		return newServer(plugin, log)
	}
}

// ServeOption configures [Serve].
type ServeOption func(*serveOptions)

type serveOptions struct {
	debug bool
}

// WithDebug runs the plugin in debug mode when on is true, typically from
// a -debug flag of the plugin's main function. The plugin then does not
// wait for the daemon to launch it: it runs standalone (under a debugger,
// say: dlv debug ./cmd/exportd-plugin-NAME -- -debug), listens, and prints
// a line that sets EXPORTD_REATTACH_PLUGINS. A daemon started with that
// variable in its environment attaches to the running plugin instead of
// launching its binary (and checks no pinned digest for it). The plugin
// serves until it is interrupted. The connection is not mutually
// authenticated: debug mode is for a developer's machine.
func WithDebug(on bool) ServeOption {
	return func(o *serveOptions) { o.debug = on }
}

// Serve runs p as a destination plugin. A plugin's main function calls it
// and nothing else; it returns when the daemon stops the plugin. Run by
// hand, the binary explains that it is a plugin and exits with status 1.
func Serve(p Plugin, opts ...ServeOption) {
	var o serveOptions
	for _, opt := range opts {
		opt(&o)
	}
	srv, err := newServer(p, Logger())
	if err != nil {
		fmt.Fprintf(os.Stderr, "exportd plugin: %v\n", err)
		os.Exit(1)
	}
	if o.debug {
		if err := serveDebug(srv); err != nil {
			fmt.Fprintf(os.Stderr, "exportd plugin: %v\n", err)
			os.Exit(1)
		}
		return
	}
	nameProcess()
	go exitWithParent(os.Getppid(), time.Second)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: protocol.Handshake,
		Plugins:         plugin.PluginSet{protocol.PluginKey: &protocol.GRPCPlugin{Impl: srv}},
		GRPCServer:      protocol.NewGRPCServer,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:       "go-plugin",
			Level:      hclog.Info,
			Output:     stderr,
			JSONFormat: true,
		}),
	})
}

// serveDebug serves srv standalone until an interrupt, after printing how
// to make the daemon attach.
func serveDebug(srv *server) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, done, err := protocol.ServeAttached(ctx, srv, hclog.NewNullLogger())
	if err != nil {
		return err
	}
	value, err := json.Marshal(map[string]protocol.Reattach{srv.schema.Name: r})
	if err != nil {
		return err
	}
	fmt.Printf("exportd plugin %s %s is running in debug mode (pid %d).\n"+
		"Start the daemon with this variable to make it attach to the plugin instead of launching it:\n\n"+
		"\t%s='%s'\n\nInterrupt the plugin to stop it.\n",
		srv.schema.Name, srv.schema.Version, os.Getpid(), protocol.ReattachEnv, value)
	<-done
	return nil
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
