package testsupport

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestNATSCluster: three nodes hold an R3 KV bucket; killing its leader
// elects another, and the killed node comes back with its store.
func TestNATSCluster(t *testing.T) {
	c := StartNATSCluster(t, NATSClusterOptions{})
	nc, err := nats.Connect(c.URLs())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "b", Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	leader, _, err := c.WaitNewLeader(ctx, "KV_b", -1)
	if err != nil {
		t.Fatal(err)
	}
	c.Kill(leader)
	if c.Nodes[leader].Running() {
		t.Fatal("the killed node still runs")
	}
	next, took, err := c.WaitNewLeader(ctx, "KV_b", leader)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("leader %s killed; %s elected after %v", c.Nodes[leader].Name, c.Nodes[next].Name, took)
	c.Restart(leader)
	if err := c.WaitJetStream(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		e, err := kv.Get(ctx, "k")
		if err == nil && string(e.Value()) == "v1" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the value is not readable after the election: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := kv.Put(ctx, "k", []byte("v2")); err != nil {
		t.Fatalf("write after the restart: %v", err)
	}
}
