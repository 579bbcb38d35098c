package host

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/internal/protocol"
	pb "github.com/exportd/exportd/sdk/proto/destination/v1"
	"github.com/hashicorp/go-plugin"
)

// Client is a host's side of one running plugin. It is safe for
// concurrent use.
type Client struct {
	pc     *plugin.Client
	rpc    pb.DestinationClient
	schema sdk.Schema
	// attached is set for a plugin the host did not launch (Attach,
	// Start): go-plugin's Kill then leaves its connection open.
	attached bool
	// stop ends a plugin served in-process (see Start); nil otherwise.
	stop func()
}

// ErrPluginExited is returned by calls made after the plugin process ended.
var ErrPluginExited = errors.New("plugin process exited")

// connect dispenses the destination service and fetches the schema.
func connect(ctx context.Context, pc *plugin.Client) (*Client, error) {
	proto, err := pc.Client()
	if err != nil {
		return nil, err
	}
	raw, err := proto.Dispense(protocol.PluginKey)
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

// Schema returns the plugin's schema as fetched when it started.
func (c *Client) Schema() sdk.Schema { return c.schema }

// Exited reports whether the plugin process has ended.
func (c *Client) Exited() bool { return c.pc.Exited() }

// Kill stops the plugin, gracefully if it can: a launched plugin's
// process ends, a plugin served in-process stops serving, and the
// connection to an attached one is closed (the process under the debugger
// goes on). It is safe to call more than once.
func (c *Client) Kill() {
	if c.attached {
		c.disconnect()
	}
	c.pc.Kill()
	if c.stop != nil {
		c.stop()
	}
}

// disconnect closes the connection to a plugin the host did not launch.
// It does not close go-plugin's client, which would also ask the plugin to
// stop serving: a plugin under a debugger goes on serving for the next
// daemon, and one served in-process is stopped by its own Kill.
func (c *Client) disconnect() {
	cp, err := c.pc.Client()
	if err != nil {
		return
	}
	if gc, ok := cp.(*plugin.GRPCClient); ok {
		_ = gc.Conn.Close()
	}
}

// PID returns the plugin's process id, or 0 if unknown.
func (c *Client) PID() int {
	if rc := c.pc.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// Configure sends a destination's configuration to the plugin, which
// validates and prepares it, and returns a handle to that destination.
func (c *Client) Configure(ctx context.Context, d sdk.DestinationInfo, cfg sdk.Config) (sdk.Destination, error) {
	if c.Exited() {
		return nil, sdk.Retryable(ErrPluginExited)
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
		return sdk.Retryable(fmt.Errorf("%w: %v", ErrPluginExited, err))
	}
	return fromStatus(err)
}

type remoteDestination struct {
	c    *Client
	name string
}

var _ sdk.Destination = (*remoteDestination)(nil)

func (d *remoteDestination) Check(ctx context.Context) (string, error) {
	var msg string
	err := d.c.call(func() error {
		r, err := d.c.rpc.Check(ctx, &pb.CheckRequest{Destination: d.name})
		msg = r.GetMessage()
		return err
	})
	return msg, err
}

func (d *remoteDestination) Begin(ctx context.Context, info sdk.ExportInfo) (sdk.Export, error) {
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

var _ sdk.Export = (*remoteExport)(nil)

func (e *remoteExport) Put(ctx context.Context, f sdk.File) error {
	return e.c.call(func() error {
		_, err := e.c.rpc.Put(ctx, &pb.PutRequest{Handle: e.handle, File: fileToPB(f)})
		return err
	})
}

func (e *remoteExport) Commit(ctx context.Context, m sdk.Manifest) (sdk.Receipt, error) {
	var rc sdk.Receipt
	err := e.c.call(func() error {
		r, err := e.c.rpc.Commit(ctx, &pb.CommitRequest{Handle: e.handle, Tables: manifestToPB(m)})
		rc = sdk.Receipt{Location: r.GetLocation(), Body: r.GetReceipt()}
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
