package workflows

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
)

func TestServiceFollow(t *testing.T) {
	leaderRef := contract.ClusterRef{Name: "main", URL: "http://127.0.0.1:9200", TransportAddress: "127.0.0.1:9300"}
	standalone := ServiceState{ServiceSpec: testSpec, Role: RoleStandalone, Followers: []string{}, State: StateRunning,
		Endpoints: contract.ServiceEndpoints{HTTPURL: "http://127.0.0.1:9201", TransportAddress: "127.0.0.1:9301"}}
	with := func(change func(*ServiceState)) ServiceState {
		st := standalone
		st.Followers = slices.Clone(st.Followers)
		change(&st)
		return st
	}
	req := FollowRequest{Leader: leaderRef, LeaderPlan: "business-4"}
	systemOnly := contract.IndexPlan{Replicate: []string{}, Excluded: []contract.Exclusion{{Index: ".kibana_1", Reason: "system"}}}
	tests := []struct {
		name       string
		state      ServiceState
		req        FollowRequest
		indexes    contract.IndexPlan
		wantReject string // the validator refuses: nothing runs
		wantFail   string // the handler refuses after listing the indexes: nothing changes
	}{
		{name: "empty standalone service follows", state: standalone, req: req, indexes: systemOnly},
		{name: "holds user indexes", state: standalone, req: req, indexes: contract.IndexPlan{Replicate: []string{"orders", "users"}, Closed: []string{"archive"}},
			wantFail: "holds user indexes (archive, orders, users)"},
		{name: "was promoted", state: with(func(st *ServiceState) { st.Promotion = &PromotionReport{FormerLeader: "old"} }), req: req,
			wantReject: "was promoted from a follower of old"},
		{name: "already a follower", state: with(func(st *ServiceState) { st.Role, st.Leader = RoleFollower, "other" }), req: req,
			wantReject: "already follows other"},
		{name: "is a leader", state: with(func(st *ServiceState) { st.Role, st.Followers = RoleLeader, []string{"f1"} }), req: req,
			wantReject: "is the leader of f1"},
		{name: "itself", state: standalone, req: FollowRequest{Leader: contract.ClusterRef{Name: "orders", URL: "u", TransportAddress: "t"}, LeaderPlan: "business-4"},
			wantReject: "cannot follow itself"},
		{name: "not running", state: with(func(st *ServiceState) { st.State = StateFailed }), req: req, wantReject: "is FAILED"},
		{name: "plan differs", state: standalone, req: FollowRequest{Leader: leaderRef, LeaderPlan: "business-8"},
			wantReject: "osccr service update orders --plan business-8"},
		{name: "leader on startup tier", state: standalone, req: FollowRequest{Leader: leaderRef, LeaderPlan: "startup-4"},
			wantReject: "hobbyist and startup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			env.RegisterWorkflow(IntegrationWorkflow)
			var a *activities.Activities
			var events []string
			env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", mock.Anything, mock.Anything).Return(
				func(_, id, _, signal string, _ any) error { events = append(events, signal+" "+id); return nil })
			env.OnActivity(a.ListLeaderIndexes, mock.Anything, mock.Anything).Return(func(_ context.Context, ref contract.ClusterRef) (contract.IndexPlan, error) {
				events = append(events, "list indexes of "+ref.Name)
				return tt.indexes, nil
			})
			var child IntegrationInput
			env.OnWorkflow(IntegrationWorkflow, mock.Anything, mock.Anything).Return(func(_ workflow.Context, in IntegrationInput) error {
				child = in
				return nil
			})
			var rejected, failed error
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(UpdateFollow, "", &testsuite.TestUpdateCallback{
					OnReject:   func(err error) { rejected = err },
					OnComplete: func(_ any, err error) { failed = err },
				}, tt.req)
			}, time.Minute)
			var after ServiceState
			env.RegisterDelayedCallback(func() { after = queryService(t, env); env.CancelWorkflow() }, 2*time.Minute)
			st := tt.state
			env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})

			switch {
			case tt.wantReject != "":
				if rejected == nil || !strings.Contains(rejected.Error(), tt.wantReject) || len(events) != 0 {
					t.Fatalf("rejected %v after %v, want a rejection saying %q and nothing done", rejected, events, tt.wantReject)
				}
			case tt.wantFail != "":
				if failed == nil || !strings.Contains(failed.Error(), tt.wantFail) {
					t.Fatalf("update ended with %v, want a failure saying %q", failed, tt.wantFail)
				}
				if !slices.Equal(events, []string{"list indexes of orders"}) || after.Role != RoleStandalone || after.Follow != nil || after.State != StateRunning {
					t.Errorf("after the refusal: events %v, state %s %s; want only the listing, and a RUNNING standalone service", events, after.Role, after.State)
				}
			default:
				if rejected != nil || failed != nil {
					t.Fatalf("rejected %v, failed %v", rejected, failed)
				}
				if want := []string{"list indexes of orders", "add-follower service/main"}; !slices.Equal(events, want) {
					t.Errorf("events %v, want %v", events, want)
				}
				if after.Role != RoleFollower || after.Leader != "main" || after.Follow == nil || after.State != StateRebuilding {
					t.Errorf("after %+v, want a REBUILDING follower of main", after)
				}
				if child.Leader != leaderRef || child.Follower.URL != standalone.Endpoints.HTTPURL || child.ParentID != ServiceWorkflowID("orders") {
					t.Errorf("integration started with %+v", child)
				}
			}
		})
	}
}
