package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/internal/testcontrol"
	"github.com/osccr/osccr/workflows"
)

// controlPlane starts the control plane with its state under stateDir.
func controlPlane(t *testing.T, stateDir string) (*control.Control, client.Client) {
	t.Helper()
	p := testcontrol.Start(t, stateDir)
	return p.Control, p.Temporal
}

func ref(n *localnode.Node) contract.ClusterRef {
	return contract.ClusterRef{Name: n.Cluster, URL: n.HTTPURL(), TransportAddress: n.TransportAddress()}
}

func clientFor(t *testing.T, n *localnode.Node) *opensearch.Client {
	t.Helper()
	c, err := opensearch.New(opensearch.Config{URLs: []string{n.HTTPURL()}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeDocs(t *testing.T, ctx context.Context, c *opensearch.Client, index string, from, to int) {
	t.Helper()
	docs := map[string]any{}
	for i := from; i < to; i++ {
		docs[fmt.Sprintf("doc-%05d", i)] = map[string]any{"n": i}
	}
	if err := c.Bulk(ctx, index, opensearch.DocsFromMap(docs), opensearch.WithRefresh()); err != nil {
		t.Fatalf("write docs %d..%d: %v", from, to, err)
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s (%s)", what, limit, detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestIndexReplicationWorkflow runs the index-replication workflow through the embedded
// Temporal server against two real clusters with the CCR plugin: the whole lifecycle.
func TestIndexReplicationWorkflow(t *testing.T) {
	d := testcluster.Distribution(t)
	testcluster.RequireCCR(t, d)
	ctl, ctx, in, lc, fc := startIndexReplicationEnv(t, d)
	id, err := ctl.StartIndexReplication(ctx, in)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	checkLifecycle(t, ctx, ctl, in, lc, fc, id)
}

// TestIndexReplicationWithoutPlugin is the one test of a follower cluster that lacks the CCR
// plugin: the clusters are connected for real, the workflow stops with a PluginMissing error
// that says what to do, and no follower index is left behind.
func TestIndexReplicationWithoutPlugin(t *testing.T) {
	d := testcluster.Distribution(t)
	testcluster.RequireCCR(t, d)
	ctl, ctx, in, _, fc := startIndexReplicationEnv(t, testcluster.WithoutCCR(t, d))
	id, err := ctl.StartIndexReplication(ctx, in)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	checkPluginMissing(t, ctx, ctl, fc, id, in.Leader.Name)
}

// startIndexReplicationEnv starts a leader (with the CCR plugin) holding 500 orders, a follower
// from d, and a control plane.
func startIndexReplicationEnv(t *testing.T, d localnode.Distribution) (*control.Control, context.Context, workflows.IndexReplicationInput, *opensearch.Client, *opensearch.Client) {
	t.Helper()
	base := testcluster.Dir(t)
	leader := testcluster.Start(t, testcluster.Distribution(t), base, "e2e-leader")
	follower := testcluster.Start(t, d, base, "e2e-follower")
	ctl, _ := controlPlane(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)

	lc, fc := clientFor(t, leader), clientFor(t, follower)
	if err := lc.CreateIndex(ctx, "orders", map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}}); err != nil {
		t.Fatal(err)
	}
	writeDocs(t, ctx, lc, "orders", 0, 500)
	return ctl, ctx, workflows.IndexReplicationInput{Leader: ref(leader), Follower: ref(follower), LeaderIndex: "orders"}, lc, fc
}

func checkPluginMissing(t *testing.T, ctx context.Context, ctl *control.Control, fc *opensearch.Client, id, leaderAlias string) {
	_, err := ctl.WaitIndexReplication(ctx, id, nil)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != contract.ErrTypePluginMissing {
		t.Fatalf("workflow ended with %v, want an application error of type %s", err, contract.ErrTypePluginMissing)
	}
	if !strings.Contains(err.Error(), "plugin") {
		t.Errorf("error %q does not tell the operator about the plugin", err)
	}
	remotes, err := fc.RemoteInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := remotes[leaderAlias]; !ok || !r.Connected {
		t.Errorf("follower's remote %q = %+v, want connected: the connect step must have run for real", leaderAlias, r)
	}
	if _, err := fc.GetIndex(ctx, "orders"); !errors.Is(err, opensearch.ErrNotFound) {
		t.Errorf("follower index after the refusal: %v, want ErrNotFound (nothing created)", err)
	}
	st, err := ctl.IndexReplicationState(ctx, id)
	if err != nil || st.State != workflows.StateRebuilding {
		t.Errorf("state after failure = %+v, %v; want %s", st, err, workflows.StateRebuilding)
	}
}

func checkLifecycle(t *testing.T, ctx context.Context, ctl *control.Control, in workflows.IndexReplicationInput, lc, fc *opensearch.Client, id string) {
	st, err := ctl.WaitIndexReplication(ctx, id, nil)
	if err != nil || st.State != workflows.StateRunning {
		t.Fatalf("wait RUNNING: %+v, %v", st, err)
	}
	if _, err := ctl.StartIndexReplication(ctx, in); !errors.Is(err, control.ErrConflict) {
		t.Fatalf("second start of a running replication: error %v, want ErrConflict", err)
	}
	sameIDs := func() (bool, string) {
		l, err1 := lc.DocumentIDs(ctx, "orders")
		f, err2 := fc.DocumentIDs(ctx, "orders")
		return err1 == nil && err2 == nil && slices.Equal(l, f), fmt.Sprintf("leader %d ids, follower %d ids (%v %v)", len(l), len(f), err1, err2)
	}
	eventually(t, time.Minute, "follower has the leader's documents", sameIDs)

	writeDocs(t, ctx, lc, "orders", 500, 700)
	eventually(t, time.Minute, "new leader documents reach the follower", sameIDs)
	if err := fc.IndexDocument(ctx, "orders", "direct", map[string]any{"n": -1}); !errors.Is(err, opensearch.ErrBlocked) {
		t.Errorf("write to a follower index: %v, want ErrBlocked", err)
	}

	if err := ctl.PauseIndexReplication(ctx, id, "test pause"); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "PAUSED", func() (bool, string) {
		st, err := ctl.IndexReplicationState(ctx, id)
		return err == nil && st.State == workflows.StatePaused, fmt.Sprintf("%+v %v", st, err)
	})
	writeDocs(t, ctx, lc, "orders", 700, 800) // written while paused: must not be lost
	if err := ctl.ResumeIndexReplication(ctx, id); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "RUNNING again", func() (bool, string) {
		st, err := ctl.IndexReplicationState(ctx, id)
		return err == nil && st.State == workflows.StateRunning, fmt.Sprintf("%+v %v", st, err)
	})
	eventually(t, time.Minute, "documents written during the pause reach the follower", sameIDs)

	if err := ctl.StopIndexReplication(ctx, id); err != nil {
		t.Fatal(err)
	}
	// The replication was RUNNING, so WaitIndexReplication would answer at once: wait for the
	// workflow's end instead.
	var final workflows.IndexReplicationState
	if err := ctl.Temporal.GetWorkflow(ctx, id, "").Get(ctx, &final); err != nil || final.State != workflows.StateStopped {
		t.Fatalf("after stop: %+v, %v; want %s", final, err, workflows.StateStopped)
	}
	if err := fc.IndexDocument(ctx, "orders", "direct", map[string]any{"n": -1}); err != nil {
		t.Errorf("write to the stopped follower index: %v, want it accepted", err)
	}
}

// TestStartRefusals checks that bad requests are refused with ErrInvalid and start nothing.
func TestStartRefusals(t *testing.T) {
	ctl, c := controlPlane(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	good := workflows.IndexReplicationInput{
		Leader:      contract.ClusterRef{Name: "l", URL: "http://127.0.0.1:1", TransportAddress: "127.0.0.1:2"},
		Follower:    contract.ClusterRef{Name: "f", URL: "http://127.0.0.1:3"},
		LeaderIndex: "orders",
	}
	tests := []struct {
		name   string
		mutate func(*workflows.IndexReplicationInput)
		want   string
	}{
		{"no leader url", func(in *workflows.IndexReplicationInput) { in.Leader.URL = "" }, "leader needs a URL"},
		{"no transport", func(in *workflows.IndexReplicationInput) { in.Leader.TransportAddress = "" }, "transport address"},
		{"same cluster", func(in *workflows.IndexReplicationInput) { in.Follower.Name = "l" }, "different clusters"},
		{"bad index", func(in *workflows.IndexReplicationInput) { in.LeaderIndex = "Orders" }, `index name "Orders"`},
		{"dot index", func(in *workflows.IndexReplicationInput) { in.LeaderIndex = ".kibana" }, `index name ".kibana"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good
			tt.mutate(&in)
			_, err := ctl.StartIndexReplication(ctx, in)
			if !errors.Is(err, control.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want ErrInvalid mentioning %q", err, tt.want)
			}
			if in.FollowerIndex == "" {
				in.FollowerIndex = in.LeaderIndex
			}
			_, err = c.DescribeWorkflowExecution(ctx, in.WorkflowID(), "")
			var nf *serviceerror.NotFound
			if !errors.As(err, &nf) {
				t.Fatalf("a workflow exists after a refused start (describe: %v)", err)
			}
		})
	}
}
