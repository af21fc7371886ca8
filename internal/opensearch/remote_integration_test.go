package opensearch_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/opensearch"
)

// testRemoteCluster connects the follower to the leader's transport port and removes the
// connection again.
func testRemoteCluster(t *testing.T, e *env) {
	ctx := context.Background()
	f := e.follower.client
	const alias = "leader"
	seeds := []string{e.leader.node.TransportAddress()}

	if err := f.SetRemoteCluster(ctx, alias, seeds); err != nil {
		t.Fatalf("SetRemoteCluster: %v", err)
	}
	// Setting the same seeds again is harmless (a retried activity does exactly that).
	if err := f.SetRemoteCluster(ctx, alias, seeds); err != nil {
		t.Fatalf("SetRemoteCluster again: %v", err)
	}
	eventually(t, time.Minute, func() (bool, string) {
		remotes, err := f.RemoteInfo(ctx)
		if err != nil {
			return false, err.Error()
		}
		r, ok := remotes[alias]
		return ok && r.Connected && r.NumNodesConnected == 1, fmt.Sprintf("%+v", remotes)
	})
	remotes, err := f.RemoteInfo(ctx)
	if err != nil {
		t.Fatalf("RemoteInfo: %v", err)
	}
	if r := remotes[alias]; !slices.Equal(r.Seeds, seeds) || r.Mode != "sniff" {
		t.Errorf("remote %s = %+v, want sniff mode with seeds %v", alias, r, seeds)
	}
	settings, err := f.ClusterSettings(ctx)
	if err != nil {
		t.Fatalf("ClusterSettings: %v", err)
	}
	if got := fmt.Sprint(settings.Persistent["cluster.remote.leader.seeds"]); got != fmt.Sprint(seeds) {
		t.Errorf("persistent seeds = %s, want %v", got, seeds)
	}

	if err := f.RemoveRemoteCluster(ctx, alias); err != nil {
		t.Fatalf("RemoveRemoteCluster: %v", err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		remotes, err := f.RemoteInfo(ctx)
		if err != nil {
			return false, err.Error()
		}
		_, ok := remotes[alias]
		return !ok, fmt.Sprintf("%+v", remotes)
	})
	if err := f.RemoveRemoteCluster(ctx, alias); err != nil {
		t.Errorf("removing a removed remote cluster: %v", err)
	}
	if err := f.SetRemoteCluster(ctx, "Bad Alias", seeds); !errors.Is(err, opensearch.ErrBadRequest) {
		t.Errorf("SetRemoteCluster with a bad alias: %v, want ErrBadRequest", err)
	}
}

// testReplicationPlugin checks the client sees the CCR plugin and that an ordinary index is
// not replicating. (The full replication flow is in replication_integration_test.go.)
func testReplicationPlugin(t *testing.T, e *env) {
	ctx := context.Background()
	f := e.follower.client
	if err := f.CreateIndex(ctx, "plain", map[string]any{"settings": map[string]any{"index.number_of_replicas": 0}}); err != nil {
		t.Fatalf("CreateIndex: %v", err)
	}
	t.Cleanup(func() { _ = f.DeleteIndex(context.Background(), "plain") })
	plugins, err := f.Plugins(ctx)
	if err != nil {
		t.Fatalf("Plugins: %v", err)
	}
	if !slices.Contains(plugins, opensearch.CCRPluginName) {
		t.Errorf("Plugins = %v, want %s", plugins, opensearch.CCRPluginName)
	}
	st, err := f.ReplicationStatus(ctx, "plain")
	if err != nil || st.Status != opensearch.StatusNotInProgress || st.Replicating() {
		t.Errorf("ReplicationStatus of an ordinary index = %+v, %v; want %q", st, err, opensearch.StatusNotInProgress)
	}
	if err := f.PauseReplication(ctx, "plain"); !errors.Is(err, opensearch.ErrReplicationNotInProgress) {
		t.Errorf("PauseReplication of an ordinary index: %v, want ErrReplicationNotInProgress", err)
	}
}
