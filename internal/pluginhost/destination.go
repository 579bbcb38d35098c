package pluginhost

import (
	"context"
	"fmt"
	"sync"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/host"
)

// destination is a configured destination that follows its plugin across
// restarts: each call goes to the process that is current when it starts.
// An export begun in a process that has since died fails retryably.
type destination struct {
	host   *Host
	info   sdk.DestinationInfo
	plugin string
	cfg    sdk.Config

	mu     sync.Mutex
	remote sdk.Destination
	client *host.Client
}

var _ sdk.Destination = (*destination)(nil)

// current returns the destination in the plugin's current process.
func (d *destination) current() (sdk.Destination, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.remote == nil || d.client.Exited() {
		return nil, sdk.Retryable(fmt.Errorf("plugin %s is restarting: %w", d.plugin, host.ErrPluginExited))
	}
	return d.remote, nil
}

// MaxObjectSize is the largest file the destination's plugin takes, as
// its schema declares; 0 means no limit. The job engine keeps every file
// under it.
func (d *destination) MaxObjectSize() int64 {
	d.mu.Lock()
	c := d.client
	d.mu.Unlock()
	return c.Schema().Capabilities.MaxObjectSize
}

func (d *destination) Check(ctx context.Context) (string, error) {
	r, err := d.current()
	if err != nil {
		return "", err
	}
	return r.Check(ctx)
}

func (d *destination) Begin(ctx context.Context, info sdk.ExportInfo) (sdk.Export, error) {
	r, err := d.current()
	if err != nil {
		return nil, err
	}
	return r.Begin(ctx, info)
}

// reconfigure configures every destination of a plugin in a new process.
func (h *Host) reconfigure(ctx context.Context, pluginName string, c *host.Client) error {
	h.mu.Lock()
	var ds []*destination
	for _, d := range h.dests {
		if d.plugin == pluginName {
			ds = append(ds, d)
		}
	}
	h.mu.Unlock()
	for _, d := range ds {
		remote, err := c.Configure(ctx, d.info, d.cfg)
		if err != nil {
			return fmt.Errorf("configure destination %s: %w", d.info.Name, err)
		}
		d.mu.Lock()
		d.remote, d.client = remote, c
		d.mu.Unlock()
	}
	return nil
}
