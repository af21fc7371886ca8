package activities

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
)

// TestWatchLeader runs the watch against two real clusters: each kind of change returns it
// with what changed, within a few polls; no change returns it after MaxWait; a follower that
// stops answering is reported once it has been silent for a second.
func TestWatchLeader(t *testing.T) {
	d := testcluster.Distribution(t)
	base := testcluster.Dir(t)
	ln, fn := testcluster.Start(t, d, base, "watch-leader"), testcluster.Start(t, d, base, "watch-follower")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	leader, err := opensearch.New(opensearch.Config{URLs: []string{ln.HTTPURL()}})
	if err != nil {
		t.Fatal(err)
	}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestActivityEnvironment()
	a := &Activities{}
	env.RegisterActivity(a)
	in := WatchInput{Leader: ClusterRef{Name: "watch-leader", URL: ln.HTTPURL()}, Follower: ClusterRef{Name: "watch-follower", URL: fn.HTTPURL()}, MaxWait: 20 * time.Second}
	watch := func(known *Observation) (Observation, time.Duration) {
		t.Helper()
		in.Known = known
		began := time.Now()
		v, err := env.ExecuteActivity(a.WatchLeader, in)
		if err != nil {
			t.Fatalf("WatchLeader: %v", err)
		}
		var obs Observation
		if err := v.Get(&obs); err != nil {
			t.Fatal(err)
		}
		return obs, time.Since(began)
	}
	// after runs change once the watch has had time to take its first look.
	after := func(change func() error) {
		go func() {
			time.Sleep(500 * time.Millisecond)
			if err := change(); err != nil {
				t.Errorf("change: %v", err)
			}
		}()
	}
	one := map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}}

	// until watches again until cond holds, as a caller acting on each observation would.
	until := func(known Observation, what string, cond func(Observation) bool) (Observation, time.Duration) {
		t.Helper()
		began := time.Now()
		for time.Since(began) < 30*time.Second {
			obs, _ := watch(&known)
			if cond(obs) {
				return obs, time.Since(began)
			}
			known = obs
		}
		t.Fatalf("%s: not seen within 30s (last %+v)", what, known)
		return known, 0
	}

	first, took := watch(nil)
	if first.Leader == nil || first.Follower.Status != "green" || took > 5*time.Second {
		t.Fatalf("first observation %+v after %s, want the leader's view and a green follower at once", first, took)
	}

	after(func() error { return leader.CreateIndex(ctx, "orders", one) })
	created, took := until(first, "new index", func(o Observation) bool { return slices.Contains(o.Leader.Replicate, "orders") })
	t.Logf("new index seen %s after it was created", took-500*time.Millisecond)
	if took > 3*time.Second {
		t.Errorf("new index seen after %s, want within a few polls", took)
	}

	after(func() error {
		if err := leader.DeleteIndex(ctx, "orders"); err != nil {
			return err
		}
		return leader.CreateIndex(ctx, "orders", one)
	})
	recreated, _ := until(created, "recreated index", func(o Observation) bool {
		uuid := o.Leader.Indexes["orders"]
		return uuid != "" && uuid != created.Leader.Indexes["orders"]
	})

	after(func() error {
		return leader.PutIndexTemplate(ctx, "logs", json.RawMessage(`{"index_patterns":["logs-*"],"priority":1}`))
	})
	templated, _ := until(recreated, "template created", func(o Observation) bool { return o.Leader.Templates != recreated.Leader.Templates })

	quiet, took := watch(&templated)
	if quiet.differs(&templated) || took < in.MaxWait {
		t.Errorf("without a change the watch returned after %s with %+v, want the same after MaxWait %s", took, quiet, in.MaxWait)
	}

	after(func() error { testcluster.Stop(t, fn); return nil })
	down, took := until(quiet, "follower unreachable", func(o Observation) bool { return o.Follower.Unhealthy() })
	if down.Follower.Status != "unreachable" || down.Leader == nil || !down.Leader.equal(*quiet.Leader) {
		t.Errorf("follower stopped: %+v, want it unreachable (and the leader view kept)", down)
	}
	if took < unhealthyAfter {
		t.Errorf("follower unreachable reported after %s, want it debounced for %s", took, unhealthyAfter)
	}
	t.Logf("follower unreachable reported %s after it was stopped", took-500*time.Millisecond)
}
