package workflows

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
)

// TestServiceHealth: a RUNNING service whose cluster goes down leaves RUNNING (a local one is
// REPAIRING while its machine's worker starts its nodes again, on that machine's queue; a
// registered one is UNHEALTHY: osccr does not run its nodes) and is RUNNING again only once
// the health watch sees it answer. A follower's replication report that arrives while it is
// down is kept, not shown. The transitions are read from the search attribute upserts the
// workflow recorded, not by polling.
func TestServiceHealth(t *testing.T) {
	follower := runningFollower()
	follower.Endpoints = contract.ServiceEndpoints{HTTPURL: "http://127.0.0.1:9201"}
	static := ServiceState{ServiceSpec: testSpec, Role: RoleStandalone, Followers: []string{}, State: StateRunning,
		Endpoints: contract.ServiceEndpoints{HTTPURL: "http://127.0.0.1:9202"}}
	static.Backend = contract.BackendStatic
	local := static
	local.Backend, local.Machine = contract.BackendLocal, testMachine

	tests := []struct {
		name        string
		st          ServiceState
		wantDown    string
		wantRepair  bool
		progressMid bool
	}{
		{"local standalone", local, StateRepairing, true, false},
		{"registered cluster", static, StateUnhealthy, false, false},
		{"local follower, replication reports RUNNING while it is down", func() ServiceState {
			f := follower
			f.Machine = testMachine
			return f
		}(), StateRepairing, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
			env := s.NewTestWorkflowEnvironment()
			env.RegisterActivity(&activities.Activities{})
			var a *activities.Activities
			env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", mock.Anything, mock.Anything).Return(nil)
			// The cluster: green, down from 1m, answering again once repaired (or at 3m).
			health := func(_ context.Context, in contract.HealthInput) (contract.ClusterHealth, error) {
				switch in.Known.Status {
				case "":
					return contract.ClusterHealth{Status: "green"}, nil
				case "green":
					return contract.ClusterHealth{Status: "unreachable", Reason: "the cluster does not answer: connection refused"}, nil
				}
				return contract.ClusterHealth{Status: "green"}, nil
			}
			env.OnActivity(a.WatchServiceHealth, mock.Anything, mock.MatchedBy(func(in contract.HealthInput) bool { return in.Known.Status == "" })).Return(health).Once()
			env.OnActivity(a.WatchServiceHealth, mock.Anything, mock.MatchedBy(func(in contract.HealthInput) bool { return in.Known.Status == "green" })).Return(health).After(time.Minute).Once()
			// The repair takes 30 s; the watch sees it answer after it. (The repaired node answers
			// at another URL: from serviceVersion 5 the watch under way is restarted there.)
			back := 2 * time.Minute
			env.OnActivity(a.WatchServiceHealth, mock.Anything, mock.MatchedBy(func(in contract.HealthInput) bool { return in.Known.Status == "unreachable" })).Return(health).After(back)
			env.OnActivity(a.WatchServiceHealth, mock.Anything, mock.Anything).Return(contract.ClusterHealth{Status: "green"}, nil).After(contract.DefaultHealthMaxWait)
			var repairQueue string
			env.OnActivity(a.RepairService, mock.Anything, mock.Anything).Return(
				func(ctx context.Context, spec contract.ServiceSpec) (contract.RepairReport, error) {
					return contract.RepairReport{Restarted: []string{"orders-0"}, Endpoints: contract.ServiceEndpoints{HTTPURL: "http://127.0.0.1:9301", Nodes: []contract.NodeEndpoint{{Name: "orders-0"}}}}, nil
				}).After(30 * time.Second)
			env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
				if info.ActivityType.Name == "RepairService" {
					repairQueue = info.TaskQueue
				}
			})
			var states []string
			var mid ServiceState
			env.RegisterDelayedCallback(func() { mid = queryService(t, env) }, 90*time.Second)
			if tt.progressMid {
				env.RegisterDelayedCallback(func() {
					env.SignalWorkflow(SignalIntegrationProgress, IntegrationProgress{State: StateRunning, Total: 2, Syncing: 2, Reason: "while down"})
				}, 100*time.Second)
			}
			var after ServiceState
			env.RegisterDelayedCallback(func() { after = queryService(t, env); env.CancelWorkflow() }, 4*time.Minute)
			env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
				if sa, ok := args.Get(0).(temporal.SearchAttributes); ok {
					if v, ok := sa.GetKeyword(SearchState); ok {
						states = append(states, v)
					}
				}
			}).Return(nil)
			st := tt.st
			env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})

			if mid.State != tt.wantDown || mid.Health == nil || mid.Health.Status != "unreachable" {
				t.Errorf("at 1m30s (down since 1m): %s %q health %+v, want %s", mid.State, mid.Reason, mid.Health, tt.wantDown)
			}
			if after.State != StateRunning || after.Health == nil || after.Health.Status != "green" {
				t.Errorf("at 4m (answering since 3m): %s %q, want RUNNING", after.State, after.Reason)
			}
			if tt.wantRepair {
				if repairQueue != MachineTaskQueue(testMachine) || after.Repair == nil || !slices.Equal(after.Repair.Restarted, []string{"orders-0"}) || after.Endpoints.HTTPURL != "http://127.0.0.1:9301" {
					t.Errorf("repair on queue %q, record %+v, endpoints %s; want it on the machine's queue, the node restarted, the new endpoints", repairQueue, after.Repair, after.Endpoints.HTTPURL)
				}
			} else if after.Repair != nil {
				t.Errorf("a registered cluster was repaired: %+v", after.Repair)
			}
			if tt.progressMid && (after.Replication == nil || after.Replication.Reason != "while down") {
				t.Errorf("the report that arrived while down is lost: %+v", after.Replication)
			}
			// Recorded transitions: down, then RUNNING, and never RUNNING in between.
			wantSeq := []string{tt.wantDown, StateRunning}
			if !slices.Equal(states, wantSeq) {
				t.Errorf("recorded states %v, want %v", states, wantSeq)
			}
		})
	}
}

// TestServiceDeleteFailsThenForced: a deprovision that fails leaves the service listed, FAILED
// with the reason (not a failed workflow that drops out of every list); a force-delete then
// ends it, naming the node it could not stop.
func TestServiceDeleteFailsThenForced(t *testing.T) {
	env := newEnv(t)
	var a *activities.Activities
	env.OnActivity(a.DeprovisionService, mock.Anything, mock.Anything).Return(temporal.NewNonRetryableApplicationError("machine m1 is gone", "Gone", nil))
	st := ServiceState{ServiceSpec: testSpec, Role: RoleStandalone, Followers: []string{}, State: StateRunning,
		Endpoints: contract.ServiceEndpoints{HTTPURL: "http://127.0.0.1:9200", Nodes: []contract.NodeEndpoint{{Name: "orders-0", HTTPURL: "http://127.0.0.1:9200"}}}}
	st.Machine = testMachine
	var failed ServiceState
	env.RegisterDelayedCallback(func() { sendDelete(env) }, time.Minute)
	env.RegisterDelayedCallback(func() {
		failed = queryService(t, env)
		env.UpdateWorkflow(UpdateForceDelete, "", &testsuite.TestUpdateCallback{OnReject: func(err error) { t.Errorf("force-delete rejected: %v", err) }})
	}, 2*time.Minute)
	env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})
	if failed.State != StateFailed || !strings.Contains(failed.Reason, "deletion failed: machine m1 is gone") {
		t.Errorf("after the failed delete: %s %q, want FAILED with the reason", failed.State, failed.Reason)
	}
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("force-delete did not end the workflow: %v", env.GetWorkflowError())
	}
	var end ServiceState
	if err := env.GetWorkflowResult(&end); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(end.Reason, "orders-0 (http://127.0.0.1:9200) may still run on machine \"m1\"") {
		t.Errorf("last reason %q, want the node it could not stop named", end.Reason)
	}
}
