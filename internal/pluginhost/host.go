// Package pluginhost runs exportd's destination plugins: it finds their
// binaries, refuses those other users could replace, verifies pinned
// checksums, launches them through the sdk client with an allow-listed
// environment, configures their destinations, restarts a plugin that
// crashes and forwards plugin logs into the daemon's log.
//
// It knows nothing of what destinations do with files, nor of jobs, NATS
// or sources. A plugin that dies mid-export makes that export's calls fail
// with a retryable error; the job engine decides what to do.
package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/host"
)

// Spec says where a plugin's binary is and what it must hash to.
type Spec struct {
	Name string
	// Path is the executable; empty means exportd-plugin-<Name> in the
	// plugin directory.
	Path string
	// SHA256 pins the binary's digest (lower-case hex); empty pins nothing.
	SHA256 string
	// Env names the daemon's environment variables the plugin receives
	// besides the SDK's base set: names or prefixes followed by a star
	// (see host.CheckEnvPattern).
	Env []string
}

// Options configure a Host.
type Options struct {
	// Dir is where plugins without an explicit path are found.
	Dir string
	// WorkDir is the plugins' working directory, so that relative paths in
	// their configuration mean what the operator meant.
	WorkDir string
	Logger  *slog.Logger
	// OnRestart, when set, is called each time a crashed plugin is
	// restarted (for metrics).
	OnRestart func(plugin string)
	// PollInterval is how often plugins are checked for liveness.
	PollInterval time.Duration
	// Attach names plugins running in debug mode (see sdk.WithDebug and
	// host.ReattachEnv): the host attaches to them instead of launching
	// their binaries, whose paths and pinned digests then play no part.
	Attach map[string]host.Reattach
}

// ErrNotInstalled is returned when a plugin's binary cannot be found.
var ErrNotInstalled = errors.New("plugin is not installed")

// Host owns the running plugin processes. Its methods are safe for
// concurrent use.
type Host struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	plugins map[string]*plugin
	// dests holds the configured destination instances by key.
	dests map[string]*Destination
	seq   uint64

	// launchMu serialises launches, so that a plugin asked for twice at
	// once starts once.
	launchMu    sync.Mutex
	supervising bool
	stop        chan struct{}
	done        chan struct{}

	// beforeLaunch, when set, runs between a binary's checks and its
	// launch (tests replace the binary there).
	beforeLaunch func()
}

// plugin is one plugin binary and its current process.
type plugin struct {
	spec   Spec
	path   string
	attach *host.Reattach // set for a plugin in debug mode
	client *host.Client   // nil while restarting
	next   time.Time      // earliest next restart attempt
	delay  time.Duration
	// noRemove is set once the current process said it predates Remove.
	noRemove bool
}

// New returns a Host for the given plugin specs. It starts nothing.
func New(specs []Spec, opts Options) *Host {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 500 * time.Millisecond
	}
	h := &Host{
		opts:    opts,
		log:     opts.Logger,
		plugins: map[string]*plugin{},
		dests:   map[string]*Destination{},
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	for _, s := range specs {
		h.plugins[s.Name] = &plugin{spec: s}
	}
	return h
}

// Resolve returns the path of a plugin's executable, from its spec or the
// plugin directory.
func (h *Host) Resolve(name string) (string, error) {
	h.mu.Lock()
	p, ok := h.plugins[name]
	h.mu.Unlock()
	path := ""
	if ok {
		path = p.spec.Path
	}
	if path == "" {
		if h.opts.Dir == "" {
			return "", fmt.Errorf("%w: %q: no plugin %q block gives its path, and there is no plugin directory", ErrNotInstalled, name, name)
		}
		path = filepath.Join(h.opts.Dir, sdk.PluginPrefix+name)
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%w: %q: there is no %s (build or install it there, or give its path in a plugin %q block)", ErrNotInstalled, name, path, name)
	}
	if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%w: %q: %s is not an executable file", ErrNotInstalled, name, path)
	}
	return path, nil
}

// Launch starts the named plugins, verifying pinned checksums first, and
// begins supervising them. Plugins without a spec are looked up in the
// plugin directory.
//
// Launching a plugin that is running, or restarting after a crash, does
// nothing. Launch may be called concurrently.
func (h *Host) Launch(ctx context.Context, names []string) error {
	h.launchMu.Lock()
	defer h.launchMu.Unlock()
	sort.Strings(names)
	for _, name := range names {
		h.mu.Lock()
		p, ok := h.plugins[name]
		if !ok {
			p = &plugin{spec: Spec{Name: name}}
			h.plugins[name] = p
		}
		started := p.client != nil || p.path != "" || p.attach != nil
		h.mu.Unlock()
		if started {
			continue
		}
		// The plugin counts as launched (and is restarted when it dies)
		// only once it started: a failed launch leaves nothing behind.
		var path string
		var attach *host.Reattach
		if r, ok := h.opts.Attach[name]; ok {
			attach = &r
		} else {
			var err error
			if path, err = h.Resolve(name); err != nil {
				return err
			}
		}
		c, err := h.start(ctx, p, path, attach)
		if err != nil {
			return err
		}
		h.mu.Lock()
		p.client, p.path, p.attach = c, path, attach
		h.mu.Unlock()
	}
	h.mu.Lock()
	if !h.supervising {
		h.supervising = true
		go h.supervise()
	}
	h.mu.Unlock()
	return nil
}

// start verifies and launches one plugin process. The binary is opened
// once: its permissions and pinned digest are checked on that open file,
// and the process is started from it.
func (h *Host) start(ctx context.Context, p *plugin, path string, attach *host.Reattach) (*host.Client, error) {
	if attach != nil {
		return h.attach(ctx, p, attach)
	}
	f, err := openBinary(path, p.spec.SHA256)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", p.spec.Name, err)
	}
	defer f.Close()
	if h.beforeLaunch != nil {
		h.beforeLaunch()
	}
	c, err := host.Launch(ctx, host.LaunchConfig{
		Path:       path,
		Executable: f,
		InheritEnv: p.spec.Env,
		Dir:        h.opts.WorkDir,
		Logger:     h.log.With("plugin", p.spec.Name),
	})
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", p.spec.Name, err)
	}
	if got := c.Schema().Name; got != p.spec.Name {
		c.Kill()
		return nil, fmt.Errorf("plugin %s: binary %s says it is plugin %q", p.spec.Name, path, got)
	}
	h.log.Info("plugin started", "plugin", p.spec.Name, "path", path, "version", c.Schema().Version, "pid", c.PID())
	return c, nil
}

// Declare adds or changes the spec of a plugin that is not running, as a
// reloaded configuration's plugin block asks. It reports false, changing
// nothing, when the plugin runs with another spec: only a restart of the
// daemon applies that.
func (h *Host) Declare(s Spec) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.plugins[s.Name]
	if !ok {
		h.plugins[s.Name] = &plugin{spec: s}
		return true
	}
	if p.client == nil && p.path == "" && p.attach == nil {
		p.spec = s
		return true
	}
	return slices.Equal(p.spec.Env, s.Env) && p.spec.Path == s.Path && p.spec.SHA256 == s.SHA256
}

// PID returns the process id of a running plugin, 0 when it is not
// running.
func (h *Host) PID(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p, ok := h.plugins[name]; ok && p.client != nil {
		return p.client.PID()
	}
	return 0
}

// attach connects to a plugin running in debug mode.
func (h *Host) attach(ctx context.Context, p *plugin, r *host.Reattach) (*host.Client, error) {
	h.log.Warn("attaching to a plugin in debug mode instead of launching it: its binary and pinned digest are not checked",
		"plugin", p.spec.Name, "network", r.Network, "address", r.Address, "pid", r.PID)
	c, err := host.Attach(ctx, *r, h.log.With("plugin", p.spec.Name))
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", p.spec.Name, err)
	}
	if got := c.Schema().Name; got != p.spec.Name {
		c.Kill()
		return nil, fmt.Errorf("plugin %s: the plugin in debug mode at %s says it is plugin %q", p.spec.Name, r.Address, got)
	}
	return c, nil
}

// Schema returns a launched plugin's schema.
func (h *Host) Schema(name string) (sdk.Schema, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.plugins[name]
	if !ok || p.client == nil {
		return sdk.Schema{}, fmt.Errorf("plugin %s is not running", name)
	}
	return p.client.Schema(), nil
}

// Configure sends a destination's configuration to its plugin and returns
// the configured destination, which survives plugin restarts: the host
// configures it again in a restarted process.
//
// Every call makes a new instance in the plugin, under a key of its own,
// even for a name configured before: a destination whose configuration
// changes while an export is using it keeps its old instance for that
// export. Remove the instance once nothing uses it any more.
func (h *Host) Configure(ctx context.Context, info sdk.DestinationInfo, pluginName string, cfg sdk.Config) (*Destination, error) {
	h.mu.Lock()
	p, ok := h.plugins[pluginName]
	var c *host.Client
	if ok {
		c = p.client
	}
	h.seq++
	key := fmt.Sprintf("%s@%d", info.Name, h.seq)
	h.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("plugin %s is not running", pluginName)
	}
	d := &Destination{host: h, key: key, info: info, plugin: pluginName, cfg: cfg}
	remote, err := configure(ctx, c, d)
	if err != nil {
		return nil, err
	}
	d.remote, d.client = remote, c
	h.mu.Lock()
	h.dests[key] = d
	h.mu.Unlock()
	return d, nil
}

// Close stops supervising and stops every plugin process. It is safe to
// call more than once.
func (h *Host) Close() {
	h.mu.Lock()
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	supervising := h.supervising
	h.mu.Unlock()
	if supervising {
		<-h.done
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.plugins {
		if p.client != nil {
			p.client.Kill()
			p.client = nil
		}
	}
}
