package testsupport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSCluster is a JetStream cluster of standalone nats-server processes
// on 127.0.0.1, each with its own client port, cluster (route) port and
// store, routed to every other node. Streams and KV buckets created in it
// may have up to len(Nodes) replicas. Nodes can be killed and restarted
// (same ports, same store) to force leader elections.
type NATSCluster struct {
	Nodes []*NATSClusterNode

	bin  string
	tb   testing.TB
	opts NATSClusterOptions
}

// NATSClusterNode is one server of a NATSCluster.
type NATSClusterNode struct {
	// Name is the node's server_name, which JetStream reports as a
	// stream's leader or replica.
	Name string
	// URL is the node's client URL.
	URL         string
	clientPort  int
	clusterPort int
	httpPort    int
	dir         string

	mu      sync.Mutex
	proc    *serverProcess
	started int // how many times it was started, for log names
}

// NATSClusterOptions configure StartNATSCluster.
type NATSClusterOptions struct {
	// Nodes is the cluster's size; three when zero.
	Nodes int
	// NoWait returns as soon as every node accepts clients, before
	// JetStream has elected its meta leader: the moment at which a cluster
	// that has just been started is least ready.
	NoWait bool
	// ConfigFile, if set, is given to every node (-c); the helper's flags
	// (addresses, ports, routes, store, name) override what it says about
	// them, so that a production configuration can run on loopback.
	ConfigFile string
	// Env is added to the nodes' environment, for the variables a
	// configuration file refers to.
	Env []string
	// Client signs the helper's own connections in, when the
	// configuration requires it; they must reach JetStream's API.
	Client []nats.Option
}

// StartNATSCluster builds nats-server (from the module cache, at the
// version go.mod pins) and starts a cluster of o.Nodes processes. Unless
// o.NoWait, it returns once JetStream answers on every node. The
// processes are stopped and their stores removed when the test ends.
func StartNATSCluster(tb testing.TB, o NATSClusterOptions) *NATSCluster {
	tb.Helper()
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	c := &NATSCluster{bin: Binary(tb, natsServerPackage, "nats-server"), tb: tb, opts: o}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if lastErr = c.start(tb.TempDir(), o.Nodes); lastErr == nil {
			break
		}
		c.StopAll() // most likely a port was taken meanwhile: new ports
	}
	if lastErr != nil {
		tb.Fatalf("nats cluster did not start: %v", lastErr)
	}
	tb.Cleanup(c.StopAll)
	if !o.NoWait {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.WaitJetStream(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	return c
}

// start picks ports for n nodes and starts them, waiting until each
// accepts clients.
func (c *NATSCluster) start(dir string, n int) error {
	ports, err := loopbackPorts(3 * n)
	if err != nil {
		return err
	}
	c.Nodes = make([]*NATSClusterNode, n)
	for i := range c.Nodes {
		c.Nodes[i] = &NATSClusterNode{
			Name:        fmt.Sprintf("n%d", i+1),
			clientPort:  ports[3*i],
			clusterPort: ports[3*i+1],
			httpPort:    ports[3*i+2],
			dir:         filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
		}
		c.Nodes[i].URL = fmt.Sprintf("nats://127.0.0.1:%d", ports[3*i])
	}
	for i := range c.Nodes {
		if err := c.launch(i); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, nd := range c.Nodes {
		if err := c.waitClients(ctx, nd); err != nil {
			return err
		}
	}
	return nil
}

// loopbackPorts returns n distinct free ports, held open together so the
// kernel cannot hand one out twice.
func loopbackPorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// launch starts node i's process with routes to every other node.
func (c *NATSCluster) launch(i int) error {
	nd := c.Nodes[i]
	var routes []string
	for j, other := range c.Nodes {
		if j != i {
			routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", other.clusterPort))
		}
	}
	store := filepath.Join(nd.dir, "store")
	args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(nd.clientPort),
		"-server_name", nd.Name,
		"-cluster_name", "exportd-test",
		"-cluster", fmt.Sprintf("nats://127.0.0.1:%d", nd.clusterPort),
		"-routes", strings.Join(routes, ","),
		"-js"}
	if c.opts.ConfigFile != "" {
		// nats-server refuses a store directory given both in the file
		// and on the command line: the node runs a copy of the file
		// naming its own.
		conf, err := nodeConfig(c.opts.ConfigFile, nd.dir, store)
		if err != nil {
			return err
		}
		args = append(args, "-c", conf, "-m", strconv.Itoa(nd.httpPort))
	} else {
		args = append(args, "-sd", store)
	}
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(os.Environ(), c.opts.Env...)
	nd.mu.Lock()
	defer nd.mu.Unlock()
	nd.started++
	p, err := startServerProcess("nats-server "+nd.Name, cmd, filepath.Join(filepath.Dir(nd.dir), fmt.Sprintf("%s-%d.log", nd.Name, nd.started)))
	if err != nil {
		return err
	}
	nd.proc = p
	return nil
}

// dial connects to one node as the helper.
func (c *NATSCluster) dial(nd *NATSClusterNode) (*nats.Conn, error) {
	return nats.Connect(nd.URL, append([]nats.Option{nats.Timeout(time.Second), nats.NoReconnect()}, c.opts.Client...)...)
}

// storeDirSetting is a store_dir line of a nats-server configuration.
var storeDirSetting = regexp.MustCompile(`(?m)^(\s*store_dir\s*[:=]\s*).*$`)

// nodeConfig copies a configuration file into dir with store as its
// JetStream store directory and returns the copy's path.
func nodeConfig(file, dir, store string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	if !storeDirSetting.Match(b) {
		b = append(b, fmt.Sprintf("\njetstream { store_dir: %q }\n", store)...)
	} else {
		b = storeDirSetting.ReplaceAll(b, []byte("${1}"+strconv.Quote(store)))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	conf := filepath.Join(dir, filepath.Base(file))
	return conf, os.WriteFile(conf, b, 0o600)
}

// waitClients waits until the node accepts a client connection.
func (c *NATSCluster) waitClients(ctx context.Context, nd *NATSClusterNode) error {
	for {
		nc, err := c.dial(nd)
		if err == nil {
			nc.Close()
			return nil
		}
		if p := nd.process(); p.exited() {
			return fmt.Errorf("%s exited during startup:\n%s", nd.Name, p.logTail())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not accept clients on %s: %w (last: %v); its log:\n%s", nd.Name, nd.URL, ctx.Err(), err, nd.process().logTail())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func (nd *NATSClusterNode) process() *serverProcess {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.proc
}

// Running reports whether the node's process is up.
func (nd *NATSClusterNode) Running() bool {
	p := nd.process()
	return p != nil && !p.exited()
}

// PID is the node's current process id.
func (nd *NATSClusterNode) PID() int { return nd.process().cmd.Process.Pid }

// URLs is every node's client URL, comma-separated, as a NATS client
// (and exportd's nats { url }) takes a cluster.
func (c *NATSCluster) URLs() string {
	urls := make([]string, len(c.Nodes))
	for i, nd := range c.Nodes {
		urls[i] = nd.URL
	}
	return strings.Join(urls, ",")
}

// Kill ends node i at once (SIGKILL), as a crashed VM would.
func (c *NATSCluster) Kill(i int) {
	p := c.Nodes[i].process()
	if p == nil || p.exited() {
		return
	}
	p.kill()
}

// Restart starts node i again, on its ports and with its store, after a
// Kill or Stop, and waits until it accepts clients.
func (c *NATSCluster) Restart(i int) {
	c.tb.Helper()
	if c.Nodes[i].Running() {
		c.tb.Fatalf("restart %s: it is still running", c.Nodes[i].Name)
	}
	if err := c.launch(i); err != nil {
		c.tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.waitClients(ctx, c.Nodes[i]); err != nil {
		c.tb.Fatal(err)
	}
}

// Stop ends node i gracefully (SIGTERM, then SIGKILL after a while).
func (c *NATSCluster) Stop(i int) {
	if p := c.Nodes[i].process(); p != nil {
		p.Stop()
	}
}

// StopAll stops every node. It is safe to call more than once.
func (c *NATSCluster) StopAll() {
	for i := range c.Nodes {
		c.Stop(i)
	}
}

// LogTail returns the end of node i's current log, for failure messages.
func (c *NATSCluster) LogTail(i int) string { return c.Nodes[i].process().logTail() }

// WaitJetStream waits until JetStream's API answers on every running
// node, which it does once the cluster has elected its meta leader.
func (c *NATSCluster) WaitJetStream(ctx context.Context) error {
	for _, nd := range c.Nodes {
		if !nd.Running() {
			continue
		}
		for {
			var info struct {
				Error *struct{ Description string } `json:"error"`
			}
			err := c.request(ctx, nd, "$JS.API.INFO", &info)
			if err == nil && info.Error == nil {
				break
			}
			if err == nil {
				err = errors.New(info.Error.Description)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("JetStream did not answer on %s: %w (last: %v)", nd.Name, ctx.Err(), err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// request sends a JetStream API request to one node and decodes the
// answer.
func (c *NATSCluster) request(ctx context.Context, nd *NATSClusterNode, subject string, v any) error {
	nc, err := c.dial(nd)
	if err != nil {
		return err
	}
	defer nc.Close()
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	m, err := nc.RequestWithContext(rctx, subject, nil)
	if err != nil {
		return err
	}
	return json.Unmarshal(m.Data, v)
}

// StreamLeader returns the index of the node that leads a stream (a KV
// bucket B is the stream KV_B), asking the running nodes in turn. It
// fails when no node knows a leader, as during an election.
func (c *NATSCluster) StreamLeader(ctx context.Context, stream string) (int, error) {
	var lastErr error
	for _, nd := range c.Nodes {
		if !nd.Running() {
			continue
		}
		var info struct {
			Cluster *struct {
				Leader string `json:"leader"`
			} `json:"cluster"`
			Error *struct{ Description string } `json:"error"`
		}
		err := c.request(ctx, nd, "$JS.API.STREAM.INFO."+stream, &info)
		switch {
		case err != nil:
			lastErr = err
		case info.Error != nil:
			lastErr = errors.New(info.Error.Description)
		case info.Cluster == nil || info.Cluster.Leader == "":
			lastErr = fmt.Errorf("stream %s has no leader", stream)
		default:
			for i, n := range c.Nodes {
				if n.Name == info.Cluster.Leader {
					return i, nil
				}
			}
			lastErr = fmt.Errorf("stream %s is led by unknown server %q", stream, info.Cluster.Leader)
		}
	}
	if lastErr == nil {
		lastErr = errors.New("no node is running")
	}
	return -1, fmt.Errorf("leader of %s: %w", stream, lastErr)
}

// WaitNewLeader waits until a stream has a leader other than node old
// (-1: any leader) and returns it with how long the wait took: after
// killing the leader, the length of the election as clients see it.
func (c *NATSCluster) WaitNewLeader(ctx context.Context, stream string, old int) (int, time.Duration, error) {
	start := time.Now()
	for {
		i, err := c.StreamLeader(ctx, stream)
		if err == nil && i != old {
			return i, time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return -1, time.Since(start), fmt.Errorf("no new leader for %s: %w (last: %v)", stream, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
