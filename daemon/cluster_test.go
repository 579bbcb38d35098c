package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/job"
	"github.com/exportd/exportd/internal/state"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var clusterAccounts = flag.Int("cluster-accounts", 150, "accounts in the burst of TestClusterLeaderKilled")

// jsCluster is a three-node JetStream cluster of nats-server processes,
// exportd replicas pointed at all three with replicas = 3, and what the
// test observes: outcomes, and the shared state.
type jsCluster struct {
	t         *testing.T
	nats      *testsupport.NATSCluster
	nc        *nats.Conn
	js        jetstream.JetStream
	out       string
	pluginDir string
	accounts  []string

	mu       sync.Mutex
	outcomes []job.OutcomeMessage
	replicas []*daemon
}

func newJSCluster(t *testing.T, o testsupport.NATSClusterOptions, accounts []string) *jsCluster {
	c := &jsCluster{
		t:         t,
		nats:      testsupport.StartNATSCluster(t, o),
		out:       t.TempDir(),
		pluginDir: testsupport.PluginDir(t, "localfs"),
		accounts:  accounts,
	}
	nc, err := nats.Connect(c.nats.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c.nc = nc
	if c.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	sub, err := nc.Subscribe(job.OutcomesSubjectPrefix+">", func(m *nats.Msg) {
		var om job.OutcomeMessage
		if json.Unmarshal(m.Data, &om) == nil {
			c.mu.Lock()
			c.outcomes = append(c.outcomes, om)
			c.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = sub.SetPendingLimits(-1, -1)
	return c
}

// config is a replica's configuration: its own data directory, the
// three NATS URLs with three replicas, one localfs destination (fsync
// off) per account, and a small sample dataset (seven files a dump).
func (c *jsCluster) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, `
data_dir   = %q
plugin_dir = %q
nats {
  url      = %q
  replicas = 3
}
http { listen = "" }
jobs {
  workers     = 4
  ack_wait    = "40s"
  lease_ttl   = "40s"
  max_deliver = 30
  backoff     = ["1s"]
}
source "sample" { scale = %s }
`, c.t.TempDir(), c.pluginDir, c.nats.URLs(), fleetScale)
	for _, a := range c.accounts {
		fmt.Fprintf(&b, "destination \"localfs\" %q {\n  account = %q\n  path    = %q\n  fsync   = false\n}\n", a, a, filepath.Join(c.out, a))
	}
	return writeConfig(c.t, b.String())
}

// startReplicas starts n replicas at the same moment and waits until each
// consumes.
func (c *jsCluster) startReplicas(n int, within time.Duration) []*daemon {
	c.t.Helper()
	ds := make([]*daemon, n)
	cfgs := make([]string, n)
	for i := range cfgs {
		cfgs[i] = c.config()
	}
	for i := range ds {
		ds[i] = startDaemon(c.t, cfgs[i])
	}
	c.mu.Lock()
	c.replicas = append(c.replicas, ds...)
	c.mu.Unlock()
	for _, d := range ds {
		d.waitLog(c.t, "exportd running", within)
	}
	return ds
}

// store opens the shared state the replicas keep.
func (c *jsCluster) store() *state.Store {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := state.Open(ctx, c.js, state.Options{Prefix: config.DefaultKVPrefix, Replicas: 3, LeaseTTL: 40 * time.Second})
	if err != nil {
		c.t.Fatal(err)
	}
	return s
}

// TestClusterStartTogether: replicas started at the same moment all come
// up: against a cluster started a moment before (its meta leader not
// elected yet); with one node down, once the stream and buckets exist; and
// on a fresh cluster with one node down, where three replicas of each
// bucket cannot be placed until the node is back, which they wait for.
func TestClusterStartTogether(t *testing.T) {
	t.Run("three replicas, cluster just started", func(t *testing.T) {
		c := newJSCluster(t, testsupport.NATSClusterOptions{NoWait: true}, []string{"acme"})
		c.startTogether(3, 2*time.Minute)
	})
	t.Run("two replicas, one node down", func(t *testing.T) {
		c := newJSCluster(t, testsupport.NATSClusterOptions{}, []string{"acme"})
		first := c.startTogether(1, 2*time.Minute)
		first[0].stop(t)
		c.nats.Kill(2)
		c.startTogether(2, 2*time.Minute)
	})
	t.Run("two replicas, fresh cluster, one node down for a while", func(t *testing.T) {
		c := newJSCluster(t, testsupport.NATSClusterOptions{NoWait: true}, []string{"acme"})
		c.nats.Kill(2)
		exportdBinary(t)
		ds := []*daemon{startDaemon(t, c.config()), startDaemon(t, c.config())}
		for _, d := range ds {
			d.waitLog(t, "NATS is not ready yet; retrying", time.Minute)
		}
		time.Sleep(10 * time.Second)
		c.nats.Restart(2)
		for _, d := range ds {
			d.waitLog(t, "exportd running", 2*time.Minute)
			d.waitLog(t, "NATS ready", time.Second)
		}
		c.checkNoErrors(ds)
	})
}

// startTogether starts n replicas at the same moment and waits until each
// consumes, without an error logged.
func (c *jsCluster) startTogether(n int, within time.Duration) []*daemon {
	c.t.Helper()
	exportdBinary(c.t) // built before the clock starts
	start := time.Now()
	ds := c.startReplicas(n, within)
	c.t.Logf("%d replicas running %v after they started", n, time.Since(start).Round(time.Millisecond))
	c.checkNoErrors(ds)
	return ds
}

// checkNoErrors fails if a replica logged an error.
func (c *jsCluster) checkNoErrors(ds []*daemon) {
	c.t.Helper()
	for _, d := range ds {
		if strings.Contains(d.out.String(), "level=ERROR") {
			c.t.Errorf("a replica logged an error:\n%s", d.out)
		}
	}
	if os.Getenv("EXPORTD_TEST_SHOW_LOGS") != "" {
		for _, d := range ds {
			c.t.Logf("exportd output:\n%s", d.out)
		}
	}
}
