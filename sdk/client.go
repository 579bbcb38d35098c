package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"time"

	pb "github.com/exportd/exportd/sdk/proto/destination/v1"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// LaunchConfig says how to start a plugin binary.
//
// A plugin does not inherit the caller's environment. It gets PATH, HOME,
// TMPDIR, TZ and LANG, the caller's variables that InheritEnv names, Env,
// and the variables go-plugin sets for the handshake.
type LaunchConfig struct {
	// Path is the plugin executable.
	Path string
	// Executable, when set, is Path opened by the caller, who checked that
	// file (its digest, its permissions). On Linux the plugin is started
	// from this open file, through /proc/self/fd, so that what runs is what
	// was checked even if Path is replaced in between; elsewhere Path is
	// started. Launch does not close it.
	Executable *os.File
	// Args are passed to the plugin.
	Args []string
	// InheritEnv names the caller's environment variables the plugin also
	// receives: names, or prefixes followed by a star ("AWS_*"). See
	// CheckEnvPattern.
	InheritEnv []string
	// Env adds NAME=value pairs to the plugin's environment.
	Env []string
	// Dir is the plugin's working directory; empty means the caller's.
	Dir string
	// Logger receives the plugin's log records. Nil discards them.
	Logger *slog.Logger
	// StartTimeout bounds the handshake. Zero means one minute.
	StartTimeout time.Duration
}

// Client is the daemon's side of one running plugin process. It is safe
// for concurrent use.
type Client struct {
	pc     *plugin.Client
	rpc    pb.DestinationClient
	schema Schema
}

// ErrPluginExited is returned by calls made after the plugin process ended.
var ErrPluginExited = errors.New("plugin process exited")

// Launch starts a plugin binary, completes the handshake over mutual TLS,
// and fetches its schema.
func Launch(ctx context.Context, cfg LaunchConfig) (*Client, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	timeout := cfg.StartTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	env, err := pluginEnviron(os.Environ(), cfg.InheritEnv)
	if err != nil {
		return nil, fmt.Errorf("start plugin %s: environment: %w", cfg.Path, err)
	}
	cmd := command(cfg)
	cmd.Env = append(env, cfg.Env...)
	cmd.Dir = cfg.Dir
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          plugin.PluginSet{pluginName: &grpcPlugin{}},
		Cmd:              cmd,
		SkipHostEnv:      true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     timeout,
		Logger:           newPluginLogBridge(logger, cmd.Path, cfg.Path),
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithDefaultCallOptions(
				grpc.MaxCallRecvMsgSize(MaxMessageSize),
				grpc.MaxCallSendMsgSize(MaxMessageSize),
			),
		},
	})
	c, err := connect(ctx, pc)
	if err != nil {
		pc.Kill()
		return nil, fmt.Errorf("start plugin %s: %w", cfg.Path, err)
	}
	return c, nil
}

// command is the plugin's command line. Started from an open file, the
// plugin receives that file as descriptor 3 and the kernel executes
// /proc/self/fd/3; argv[0] still names Path.
func command(cfg LaunchConfig) *exec.Cmd {
	if cfg.Executable == nil || runtime.GOOS != "linux" {
		return exec.Command(cfg.Path, cfg.Args...)
	}
	return &exec.Cmd{
		Path:       "/proc/self/fd/3",
		Args:       append([]string{cfg.Path}, cfg.Args...),
		ExtraFiles: []*os.File{cfg.Executable},
	}
}

func connect(ctx context.Context, pc *plugin.Client) (*Client, error) {
	proto, err := pc.Client()
	if err != nil {
		return nil, err
	}
	raw, err := proto.Dispense(pluginName)
	if err != nil {
		return nil, err
	}
	c := &Client{pc: pc, rpc: raw.(pb.DestinationClient)}
	r, err := c.rpc.Schema(ctx, &pb.SchemaRequest{})
	if err != nil {
		return nil, fmt.Errorf("schema: %w", fromStatus(err))
	}
	if c.schema, err = schemaFromPB(r); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	if err := c.schema.Validate(); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	return c, nil
}

// Schema returns the plugin's schema as fetched at launch.
func (c *Client) Schema() Schema { return c.schema }

// Exited reports whether the plugin process has ended.
func (c *Client) Exited() bool { return c.pc.Exited() }

// Kill stops the plugin process, gracefully if it can. It is safe to call
// more than once.
func (c *Client) Kill() { c.pc.Kill() }

// PID returns the plugin's process id, or 0 if unknown.
func (c *Client) PID() int {
	if rc := c.pc.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// Configure sends a destination's configuration to the plugin, which
// validates and prepares it, and returns a handle to that destination.
func (c *Client) Configure(ctx context.Context, d DestinationInfo, cfg Config) (Destination, error) {
	if c.Exited() {
		return nil, Retryable(ErrPluginExited)
	}
	_, err := c.rpc.Configure(ctx, &pb.ConfigureRequest{Destination: d.Name, Account: d.Account, ConfigJson: cfg.JSON()})
	if err != nil {
		return nil, fromStatus(err)
	}
	return &remoteDestination{c: c, name: d.Name}, nil
}

// call runs one RPC and classifies its error. A plugin that died during
// the call makes the error retryable whatever the transport said.
func (c *Client) call(fn func() error) error {
	err := fn()
	if err == nil {
		return nil
	}
	if c.Exited() {
		return Retryable(fmt.Errorf("%w: %v", ErrPluginExited, err))
	}
	return fromStatus(err)
}

type remoteDestination struct {
	c    *Client
	name string
}

var _ Destination = (*remoteDestination)(nil)

func (d *remoteDestination) Check(ctx context.Context) (string, error) {
	var msg string
	err := d.c.call(func() error {
		r, err := d.c.rpc.Check(ctx, &pb.CheckRequest{Destination: d.name})
		msg = r.GetMessage()
		return err
	})
	return msg, err
}

func (d *remoteDestination) Begin(ctx context.Context, info ExportInfo) (Export, error) {
	var handle string
	err := d.c.call(func() error {
		r, err := d.c.rpc.Begin(ctx, exportInfoToPB(d.name, info))
		handle = r.GetHandle()
		return err
	})
	if err != nil {
		return nil, err
	}
	return &remoteExport{c: d.c, handle: handle}, nil
}

type remoteExport struct {
	c      *Client
	handle string

	abortOnce sync.Once
}

var _ Export = (*remoteExport)(nil)

func (e *remoteExport) Put(ctx context.Context, f File) error {
	return e.c.call(func() error {
		_, err := e.c.rpc.Put(ctx, &pb.PutRequest{Handle: e.handle, File: fileToPB(f)})
		return err
	})
}

func (e *remoteExport) Commit(ctx context.Context, m Manifest) (Receipt, error) {
	var rc Receipt
	err := e.c.call(func() error {
		r, err := e.c.rpc.Commit(ctx, &pb.CommitRequest{Handle: e.handle, Tables: manifestToPB(m)})
		rc = Receipt{Location: r.GetLocation(), Body: r.GetReceipt()}
		return err
	})
	return rc, err
}

func (e *remoteExport) Abort(ctx context.Context) error {
	var err error
	e.abortOnce.Do(func() {
		if e.c.Exited() {
			return // the process took the export with it
		}
		err = e.c.call(func() error {
			_, err := e.c.rpc.Abort(ctx, &pb.AbortRequest{Handle: e.handle})
			return err
		})
	})
	return err
}
