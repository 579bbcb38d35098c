package host

import (
	"context"
	"errors"

	"github.com/exportd/exportd/sdk"
	pb "github.com/exportd/exportd/sdk/proto/destination/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrRemoveUnsupported is returned by Client.Remove when the plugin
// predates the Remove call: it keeps the destination until it restarts.
var ErrRemoveUnsupported = errors.New("plugin does not support removing destinations")

// ConfigureInstance is Configure under key, a name of the caller's choosing
// for this configuration of the destination d, so that two configurations
// of one destination can live side by side in the plugin (an export keeps
// the older while new exports use the newer). The plugin still sees d's
// name; later calls of the returned Destination address key.
func (c *Client) ConfigureInstance(ctx context.Context, key string, d sdk.DestinationInfo, cfg sdk.Config) (sdk.Destination, error) {
	if c.Exited() {
		return nil, sdk.Retryable(ErrPluginExited)
	}
	_, err := c.rpc.Configure(ctx, &pb.ConfigureRequest{Destination: key, Name: d.Name, Account: d.Account, ConfigJson: cfg.JSON()})
	if err != nil {
		return nil, fromStatus(err)
	}
	return &remoteDestination{c: c, name: key}, nil
}

// Remove makes the plugin forget the destination configured under key
// and what it holds. Exports begun before go on. A plugin built before
// Remove existed answers ErrRemoveUnsupported.
func (c *Client) Remove(ctx context.Context, key string) error {
	_, err := c.rpc.Remove(ctx, &pb.RemoveRequest{Destination: key})
	if status.Code(err) == codes.Unimplemented {
		return ErrRemoveUnsupported
	}
	if err != nil {
		return c.call(func() error { return err })
	}
	return nil
}
