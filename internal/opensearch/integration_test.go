package opensearch_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
)

// cluster is a real single-node OpenSearch cluster and a client for it.
type cluster struct {
	node   *localnode.Node
	client *opensearch.Client
}

// env is what the integration tests share: two real clusters, started once per package run
// (a node takes 6-15 s to start and the machine has 2 cores, so never more than two at once).
type env struct {
	dist     localnode.Distribution
	leader   cluster
	follower cluster
}

func startCluster(t *testing.T, d localnode.Distribution, base, name string) cluster {
	t.Helper()
	started := time.Now()
	node := testcluster.Start(t, d, base, name)
	t.Logf("%s: %s (transport %s) healthy after %s", name, node.HTTPURL(), node.TransportAddress(), time.Since(started).Round(time.Millisecond))
	c, err := opensearch.New(opensearch.Config{URLs: []string{node.HTTPURL()}, Timeout: time.Minute})
	if err != nil {
		t.Fatalf("client for %s: %v", name, err)
	}
	return cluster{node: node, client: c}
}

func startEnv(t *testing.T) *env {
	t.Helper()
	d := testcluster.Distribution(t)
	base := testcluster.Dir(t)
	return &env{
		dist:     d,
		leader:   startCluster(t, d, base, "leader"),
		follower: startCluster(t, d, base, "follower"),
	}
}

// TestOpenSearch runs the client against real OpenSearch nodes: one leader and one follower
// cluster shared by all subtests, stopped when the test ends.
func TestOpenSearch(t *testing.T) {
	e := startEnv(t)
	t.Run("Cluster", func(t *testing.T) { testCluster(t, e) })
	t.Run("ClusterSettings", func(t *testing.T) { testClusterSettings(t, e) })
	t.Run("Indices", func(t *testing.T) { testIndices(t, e) })
	t.Run("IndexMetadataUpdates", func(t *testing.T) { testIndexMetadataUpdates(t, e) })
	t.Run("BulkAndDocumentIDs", func(t *testing.T) { testBulkAndDocumentIDs(t, e) })
	t.Run("Templates", func(t *testing.T) { testTemplates(t, e) })
	t.Run("ClusterMetadata", func(t *testing.T) { testClusterMetadata(t, e) })
	t.Run("RemoteCluster", func(t *testing.T) { testRemoteCluster(t, e) })
	t.Run("ReplicationPlugin", func(t *testing.T) { testReplicationPlugin(t, e) })
}

func testCluster(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.leader.client

	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	version, err := e.dist.Version()
	if err != nil {
		t.Fatal(err)
	}
	if info.ClusterName != "leader" || info.Version != version || info.Distribution != "opensearch" || info.ClusterUUID == "" {
		t.Errorf("Info = %+v, want cluster leader running OpenSearch %s", info, version)
	}

	health, err := c.Health(ctx)
	if err != nil {
		t.Fatalf("Health: %v", err)
	}
	if health.ClusterName != "leader" || health.NumberOfNodes != 1 || health.NumberOfDataNodes != 1 ||
		(health.Status != opensearch.HealthGreen && health.Status != opensearch.HealthYellow) {
		t.Errorf("Health = %+v, want one healthy node", health)
	}

	nodes, err := c.Nodes(ctx)
	if err != nil {
		t.Fatalf("Nodes: %v", err)
	}
	if len(nodes) != 1 {
		t.Fatalf("Nodes = %+v, want one node", nodes)
	}
	n := nodes[0]
	if n.Name != "leader-0" || n.ID == "" || n.TransportAddress != e.leader.node.TransportAddress() {
		t.Errorf("node = %+v, want leader-0 at %s", n, e.leader.node.TransportAddress())
	}
	if !slices.Contains(n.Roles, "data") || !slices.Contains(n.Roles, "remote_cluster_client") {
		t.Errorf("roles = %v, want data and remote_cluster_client", n.Roles)
	}
	// testcluster nodes run with a 256 MB heap.
	if n.HeapMaxBytes != 256<<20 || n.HeapUsedBytes <= 0 || n.HeapUsedBytes > n.HeapMaxBytes {
		t.Errorf("heap used %d of %d bytes, want a plausible use of 256 MiB", n.HeapUsedBytes, n.HeapMaxBytes)
	}
	if n.DiskTotalBytes <= 0 || n.DiskFreeBytes <= 0 || n.DiskFreeBytes > n.DiskTotalBytes || n.DiskAvailableBytes > n.DiskFreeBytes {
		t.Errorf("disk total %d free %d available %d, want 0 < available <= free <= total", n.DiskTotalBytes, n.DiskFreeBytes, n.DiskAvailableBytes)
	}

	plugins, err := c.Plugins(ctx)
	if err != nil {
		t.Fatalf("Plugins: %v", err)
	}
	installed, err := e.dist.Plugins()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(installed)
	if !slices.Equal(plugins, installed) {
		t.Errorf("Plugins = %v, want the distribution's %v", plugins, installed)
	}
}

func testClusterSettings(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.leader.client
	const key = "cluster.max_shards_per_node"
	if err := c.PutPersistentClusterSettings(ctx, map[string]any{key: 1234}); err != nil {
		t.Fatalf("PutPersistentClusterSettings: %v", err)
	}
	s, err := c.ClusterSettings(ctx)
	if err != nil {
		t.Fatalf("ClusterSettings: %v", err)
	}
	if s.Persistent[key] != "1234" {
		t.Errorf("persistent %s = %v, want \"1234\" (all: %v)", key, s.Persistent[key], s.Persistent)
	}
	if err := c.PutPersistentClusterSettings(ctx, map[string]any{key: nil}); err != nil {
		t.Fatalf("remove setting: %v", err)
	}
	s, err = c.ClusterSettings(ctx)
	if err != nil {
		t.Fatalf("ClusterSettings: %v", err)
	}
	if _, ok := s.Persistent[key]; ok {
		t.Errorf("%s still set after removal: %v", key, s.Persistent)
	}
	err = c.PutPersistentClusterSettings(ctx, map[string]any{"no.such.setting": 1})
	if !errors.Is(err, opensearch.ErrBadRequest) {
		t.Errorf("unknown setting: %v, want ErrBadRequest", err)
	}
}

// eventually calls check until it reports done or timeout passes, then fails with what check
// last said.
func eventually(t *testing.T, timeout time.Duration, check func() (done bool, last string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		done, last := check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done after %s; last: %s", timeout, last)
		}
		<-tick.C
	}
}
