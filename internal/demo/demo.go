// Package demo runs osccr's main job end to end on this machine: a leader cluster with data, a
// follower cluster, and the follower replicating the leader's index through a Temporal
// workflow that can be watched in the Web UI.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/workflows"
)

// Index is the leader index the demo replicates.
const Index = "demo-orders"

// Options configure a demo run.
type Options struct {
	Control   *control.Control
	StateDir  string
	Docs      int
	UIURL     string
	Namespace string
	Out       io.Writer
	// ExitWhenRunning stops the clusters as soon as the follower is RUNNING instead of
	// waiting for Ctrl-C.
	ExitWhenRunning bool
}

// Run starts the clusters, loads data, replicates it and waits for ctx to end (Ctrl-C), then
// stops every node it started.
func Run(ctx context.Context, o Options) (err error) {
	dist, err := localnode.DistributionFromEnv()
	if err != nil {
		return err
	}
	say := func(format string, args ...any) { fmt.Fprintf(o.Out, format+"\n", args...) }
	if !dist.HasPlugin(localnode.CCRPluginName) {
		reason, _ := os.ReadFile(filepath.Join(dist.Home, ".ccr-unavailable"))
		say("WARNING: %s has no cross-cluster-replication plugin (%s); the workflow will connect the clusters and then stop with PluginMissing.", dist.Home, strings.TrimSpace(string(reason)))
	}
	base, err := filepath.Abs(filepath.Join(o.StateDir, "demo-nodes"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", base, err)
	}

	startCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var nodes []*localnode.Node
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, n := range nodes {
			if serr := n.Stop(stopCtx); serr != nil {
				err = errors.Join(err, serr)
			}
			say("stopped %s (pid %d)", n.Name, n.PID)
		}
	}()
	for _, name := range []string{"demo-leader", "demo-follower"} {
		began := time.Now()
		n, err := dist.Start(startCtx, localnode.Spec{Dir: filepath.Join(base, name), Cluster: name, HeapMB: 384})
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
		say("%s up at %s (transport %s, pid %d) in %s", name, n.HTTPURL(), n.TransportAddress(), n.PID, time.Since(began).Round(time.Millisecond))
	}
	leader, follower := nodes[0], nodes[1]

	lc, err := opensearch.New(opensearch.Config{URLs: []string{leader.HTTPURL()}})
	if err != nil {
		return err
	}
	if err := load(ctx, lc, o.Docs); err != nil {
		return err
	}
	say("loaded %d documents into %s on %s", o.Docs, Index, leader.Name)

	in := workflows.IndexReplicationInput{
		Leader:      activities.ClusterRef{Name: leader.Cluster, URL: leader.HTTPURL(), TransportAddress: leader.TransportAddress()},
		Follower:    activities.ClusterRef{Name: follower.Cluster, URL: follower.HTTPURL(), TransportAddress: follower.TransportAddress()},
		LeaderIndex: Index,
	}
	began := time.Now()
	id, err := o.Control.StartIndexReplication(ctx, in)
	if errors.Is(err, control.ErrConflict) {
		id = workflows.IndexReplicationInput{Follower: in.Follower, FollowerIndex: Index}.WorkflowID()
		say("replication already running as %s", id)
	} else if err != nil {
		return err
	}
	say("workflow %s started; watch it at %s/namespaces/%s/workflows?query=%s", id, o.UIURL, o.Namespace, url.QueryEscape(fmt.Sprintf("WorkflowId=%q", id)))
	st, err := o.Control.WaitIndexReplication(ctx, id, func(st workflows.IndexReplicationState) {
		say("  %s %s", st.State, st.Reason)
	})
	if err != nil {
		return err
	}
	fc, err := opensearch.New(opensearch.Config{URLs: []string{follower.HTTPURL()}})
	if err != nil {
		return err
	}
	count, err := fc.Count(ctx, Index)
	if err != nil {
		return err
	}
	say("follower %s is %s after %s: %d of %d documents replicated", follower.Name, st.State, time.Since(began).Round(time.Millisecond), count, o.Docs)
	if o.ExitWhenRunning {
		return nil
	}
	say("press Ctrl-C to stop the demo clusters (the workflow stays in Temporal's history)")
	<-ctx.Done()
	return nil
}

func load(ctx context.Context, c *opensearch.Client, n int) error {
	if err := c.CreateIndex(ctx, Index, map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}}); err != nil && !errors.Is(err, opensearch.ErrAlreadyExists) {
		return err
	}
	const batch = 1000
	for start := 0; start < n; start += batch {
		docs := make(map[string]any, batch)
		for i := start; i < start+batch && i < n; i++ {
			docs[fmt.Sprintf("order-%06d", i)] = map[string]any{"order": i, "amount": i % 997, "status": []string{"new", "paid", "shipped"}[i%3]}
		}
		if err := c.Bulk(ctx, Index, opensearch.DocsFromMap(docs)); err != nil {
			return fmt.Errorf("load demo data: %w", err)
		}
	}
	return c.Refresh(ctx, Index)
}
