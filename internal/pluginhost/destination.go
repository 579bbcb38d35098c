package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/host"
)

// Destination is one configured instance of a destination. It follows its
// plugin across restarts: each call goes to the process that is current
// when it starts. An export begun in a process that has since died fails
// retryably.
type Destination struct {
	host *Host
	// key names the instance in the plugin; it is unique for the host's
	// lifetime, so that two configurations of one name can live side by
	// side while exports use the older one.
	key    string
	info   sdk.DestinationInfo
	plugin string
	cfg    sdk.Config

	mu      sync.Mutex
	remote  sdk.Destination
	client  *host.Client
	removed bool
}

var _ sdk.Destination = (*Destination)(nil)

// Name returns the destination's name.
func (d *Destination) Name() string { return d.info.Name }

// Plugin returns the name of the destination's plugin.
func (d *Destination) Plugin() string { return d.plugin }

// current returns the destination in the plugin's current process.
func (d *Destination) current() (sdk.Destination, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.removed {
		return nil, sdk.Permanent(fmt.Errorf("destination %s was removed from plugin %s", d.info.Name, d.plugin))
	}
	if d.remote == nil || d.client.Exited() {
		return nil, sdk.Retryable(fmt.Errorf("plugin %s is restarting: %w", d.plugin, host.ErrPluginExited))
	}
	return d.remote, nil
}

// MaxObjectSize is the largest file the destination's plugin takes, as
// its schema declares; 0 means no limit. The job engine keeps every file
// under it.
func (d *Destination) MaxObjectSize() int64 {
	d.mu.Lock()
	c := d.client
	d.mu.Unlock()
	if c == nil {
		return 0
	}
	return c.Schema().Capabilities.MaxObjectSize
}

// Check runs the plugin's connectivity check for the destination.
func (d *Destination) Check(ctx context.Context) (string, error) {
	r, err := d.current()
	if err != nil {
		return "", err
	}
	return r.Check(ctx)
}

// Begin starts an export to the destination.
func (d *Destination) Begin(ctx context.Context, info sdk.ExportInfo) (sdk.Export, error) {
	r, err := d.current()
	if err != nil {
		return nil, err
	}
	return r.Begin(ctx, info)
}

// Remove takes the instance out of its plugin, which releases what it
// holds (clients, credentials), and out of the host, so that a restarted
// plugin does not configure it again. Exports begun before go on; new
// calls fail. It is safe to call more than once.
func (d *Destination) Remove(ctx context.Context) error {
	d.mu.Lock()
	if d.removed {
		d.mu.Unlock()
		return nil
	}
	d.removed = true
	c := d.client
	d.remote = nil
	d.mu.Unlock()
	h := d.host
	h.mu.Lock()
	delete(h.dests, d.key)
	h.mu.Unlock()
	if c == nil || c.Exited() {
		return nil // the process took the instance with it
	}
	return h.removeRemote(ctx, c, d)
}

// configure configures the instance d in the plugin process c.
func configure(ctx context.Context, c *host.Client, d *Destination) (sdk.Destination, error) {
	return c.ConfigureInstance(ctx, d.key, d.info, d.cfg)
}

// removeRemote releases the instance d in the plugin process c. A plugin
// that predates Remove keeps it until it restarts: that is said once per
// process.
func (h *Host) removeRemote(ctx context.Context, c *host.Client, d *Destination) error {
	err := c.Remove(ctx, d.key)
	if !errors.Is(err, host.ErrRemoveUnsupported) {
		return err
	}
	h.mu.Lock()
	p := h.plugins[d.plugin]
	first := p != nil && p.client == c && !p.noRemove
	if first {
		p.noRemove = true
	}
	h.mu.Unlock()
	if first {
		h.log.Warn("the plugin predates removing destinations: removed and replaced ones stay in its process until it restarts; update it",
			"plugin", d.plugin)
	}
	return nil
}

// reconfigure configures every destination of a plugin in a new process.
func (h *Host) reconfigure(ctx context.Context, pluginName string, c *host.Client) error {
	h.mu.Lock()
	var ds []*Destination
	for _, d := range h.dests {
		if d.plugin == pluginName {
			ds = append(ds, d)
		}
	}
	h.mu.Unlock()
	for _, d := range ds {
		remote, err := configure(ctx, c, d)
		if err != nil {
			return fmt.Errorf("configure destination %s: %w", d.info.Name, err)
		}
		d.mu.Lock()
		if !d.removed {
			d.remote, d.client = remote, c
		}
		d.mu.Unlock()
	}
	return nil
}
