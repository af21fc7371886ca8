package workflows

import (
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
)

// TestServiceRepairMoved (serviceVersion 5): a local service whose repaired node answers on
// other ports (its old ones were taken meanwhile) restarts its health watch at the new
// address, so it is RUNNING again as soon as it answers there, and tells the integrations that
// know its address: a leader its followers' (as their leader), a follower its own (as their
// follower).
func TestServiceRepairMoved(t *testing.T) {
	old := contract.ServiceEndpoints{HTTPURL: "http://127.0.0.1:9200", TransportAddress: "127.0.0.1:9300", Nodes: []contract.NodeEndpoint{{Name: "orders-0"}}}
	moved := contract.ServiceEndpoints{HTTPURL: "http://127.0.0.1:9210", TransportAddress: "127.0.0.1:9310", Nodes: []contract.NodeEndpoint{{Name: "orders-0"}}}
	leader := ServiceState{ServiceSpec: testSpec, Role: RoleLeader, Followers: []string{"f1", "f2"}, State: StateRunning, Endpoints: old}
	leader.Machine = testMachine
	follower := runningFollower()
	follower.Endpoints, follower.Machine = old, testMachine
	tests := []struct {
		name string
		st   ServiceState
		want map[string]string // integration -> side
	}{
		{"leader", leader, map[string]string{IntegrationWorkflowID("orders", "f1"): SideLeader, IntegrationWorkflowID("orders", "f2"): SideLeader}},
		{"follower", follower, map[string]string{IntegrationWorkflowID("main", "orders"): SideFollower}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var suite testsuite.WorkflowTestSuite
			suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
			env := suite.NewTestWorkflowEnvironment()
			env.RegisterActivity(&activities.Activities{})
			var a *activities.Activities
			at := func(url string) func(contract.HealthInput) bool {
				return func(in contract.HealthInput) bool { return in.Known.Status == "unreachable" && in.Cluster.URL == url }
			}
			down := contract.ClusterHealth{Status: "unreachable", Reason: "the cluster does not answer: connection refused"}
			env.OnActivity(a.WatchServiceHealth, mock.Anything, mock.MatchedBy(func(in contract.HealthInput) bool { return in.Known.Status == "" })).Return(contract.ClusterHealth{Status: "green"}, nil).Once()
			env.OnActivity(a.WatchServiceHealth, mock.Anything, mock.MatchedBy(func(in contract.HealthInput) bool { return in.Known.Status == "green" && in.Cluster.URL == old.HTTPURL })).Return(down, nil).After(time.Minute).Once()
			// At the old address nothing answers until the watch gives up (10 minutes); at the new
			// one the repaired node answers at the first look.
			env.OnActivity(a.WatchServiceHealth, mock.Anything, mock.MatchedBy(at(old.HTTPURL))).Return(down, nil).After(contract.DefaultHealthMaxWait)
			env.OnActivity(a.WatchServiceHealth, mock.Anything, mock.MatchedBy(at(moved.HTTPURL))).Return(contract.ClusterHealth{Status: "green"}, nil).After(2 * time.Second)
			env.OnActivity(a.WatchServiceHealth, mock.Anything, mock.Anything).Return(contract.ClusterHealth{Status: "green"}, nil).After(contract.DefaultHealthMaxWait)
			env.OnActivity(a.RepairService, mock.Anything, mock.Anything).Return(contract.RepairReport{Endpoints: moved, Restarted: []string{"orders-0"}, Moved: []string{"orders-0"}}, nil).After(30 * time.Second)
			var mu sync.Mutex
			told := map[string]ClusterMoved{}
			env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", SignalClusterMoved, mock.Anything).Return(func(_, id, _, _ string, arg any) error {
				mu.Lock()
				defer mu.Unlock()
				told[id] = arg.(ClusterMoved)
				return nil
			})
			env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", mock.Anything, mock.Anything).Return(nil)
			var states []string
			env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
				if sa, ok := args.Get(0).(temporal.SearchAttributes); ok {
					if v, ok := sa.GetKeyword(SearchState); ok {
						states = append(states, v)
					}
				}
			}).Return(nil)
			var back ServiceState
			env.RegisterDelayedCallback(func() { back = queryService(t, env); env.CancelWorkflow() }, 2*time.Minute)
			st := tt.st
			env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})

			if back.State != StateRunning || back.Endpoints.HTTPURL != moved.HTTPURL || back.Repair == nil || !slices.Equal(back.Repair.Moved, []string{"orders-0"}) {
				t.Errorf("at 2m (repaired on new ports at 1m30s): %s %q at %s, repair %+v; want RUNNING at %s, the node recorded as moved",
					back.State, back.Reason, back.Endpoints.HTTPURL, back.Repair, moved.HTTPURL)
			}
			if want := []string{StateRepairing, StateRunning}; !slices.Equal(states, want) {
				t.Errorf("recorded states %v, want %v", states, want)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(told) != len(tt.want) {
				t.Errorf("told %v, want %v", told, tt.want)
			}
			for id, side := range tt.want {
				m, ok := told[id]
				if !ok || m.Side != side || m.Cluster.URL != moved.HTTPURL || m.Cluster.TransportAddress != moved.TransportAddress ||
					m.Cluster.ClusterAuth != (contract.ClusterAuth{}) || !strings.Contains(m.From, old.TransportAddress) {
					t.Errorf("%s told %+v (%v), want the %s at %s %s, from %s", id, m, ok, side, moved.HTTPURL, moved.TransportAddress, old.TransportAddress)
				}
			}
		})
	}
}

// TestIntegrationClusterMoved (integrationVersion 3): a leader that moved is reconnected (the
// follower's remote seeds point at its new transport address), and while that fails the
// integration reports RECONNECT_FAILED and tries again at the next observation; its watch
// restarts at the new addresses of either side; a follower that moved needs no reconnect.
func TestIntegrationClusterMoved(t *testing.T) {
	env := newEnv(t)
	h := newSyncHarness(t, env, map[string]string{"x": "ux"}, syncAfter)
	leaderAt := contract.ClusterRef{Name: "l", URL: "http://127.0.0.1:9210", TransportAddress: "127.0.0.1:9310"}
	h.at(2*time.Minute-time.Second, func() {
		h.connectErr = temporal.NewNonRetryableApplicationError("connect f to leader l: connection refused", "Unavailable", nil)
	})
	h.signal(2*time.Minute, SignalClusterMoved, ClusterMoved{Side: SideLeader, Cluster: leaderAt, From: "http://127.0.0.1:9200 127.0.0.1:9300"})
	h.at(3*time.Minute, func() { h.connectErr = nil })
	h.signal(5*time.Minute, SignalClusterMoved, ClusterMoved{Side: SideFollower, Cluster: contract.ClusterRef{Name: "f", URL: "http://127.0.0.1:9211", TransportAddress: "127.0.0.1:9311"}})
	h.signal(7*time.Minute, SignalStopIntegration, nil)
	var failing, reconnected IntegrationProgress
	h.snapshot(150*time.Second, &failing)
	h.snapshot(4*time.Minute, &reconnected)
	env.ExecuteWorkflow(IntegrationWorkflow, h.in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}

	hasReconnectProblem := func(p IntegrationProgress) bool {
		return slices.ContainsFunc(p.Problems, func(p Problem) bool {
			return p.Status == ProblemReconnectFailed && strings.Contains(p.Reason, "127.0.0.1:9310") && strings.Contains(p.Reason, "connection refused")
		})
	}
	if !hasReconnectProblem(failing) || failing.State != StateRunning {
		t.Errorf("while the reconnect fails: %+v, want RUNNING with a RECONNECT_FAILED problem naming the new address", failing)
	}
	if hasReconnectProblem(reconnected) || len(reconnected.Problems) != 0 {
		t.Errorf("once reconnected: %+v, want no problem", reconnected)
	}
	if got := h.between(5*time.Minute, 7*time.Minute); slices.Contains(got, "connect") {
		t.Errorf("after the follower moved: %v, want no reconnect", got)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var seeds []string
	for _, c := range h.connects {
		seeds = append(seeds, c.Leader.TransportAddress)
	}
	// The first connect (setup), then reconnects at the new address, once at the move and
	// again at each observation (every 30 s here) until one works.
	if len(seeds) < 3 || seeds[0] != "127.0.0.1:9300" || slices.ContainsFunc(seeds[1:], func(s string) bool { return s != leaderAt.TransportAddress }) {
		t.Errorf("connects to %v, want 127.0.0.1:9300, then at least twice %s", seeds, leaderAt.TransportAddress)
	}
	sawLeader, sawFollower := false, false
	for _, w := range h.watches {
		sawLeader = sawLeader || w.Leader.URL == leaderAt.URL
		sawFollower = sawFollower || (w.Follower.URL == "http://127.0.0.1:9211" && w.Leader.URL == leaderAt.URL)
	}
	if !sawLeader || !sawFollower {
		t.Errorf("watches %+v, want them at the leader's new address, then at both new addresses", h.watches)
	}
}
