package workflows

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
)

func TestServicePlanUpdate(t *testing.T) {
	running := func(role string, followers ...string) ServiceState {
		return ServiceState{ServiceSpec: testSpec, Role: role, Followers: append([]string{}, followers...), State: StateRunning}
	}
	follower := running(RoleFollower)
	follower.Leader = "main"
	static := running(RoleStandalone)
	static.Backend = contract.BackendStatic
	ok := func(f string) PlanChanged { return PlanChanged{Service: f, Plan: "business-8"} }
	tests := []struct {
		name       string
		state      ServiceState
		plan       string
		answers    []PlanChanged // the followers' answers, one a minute from the second minute
		wantReject string
		wantFail   string
		wantEvents []string
		wantPlan   string
	}{
		{name: "standalone", state: running(RoleStandalone), plan: "business-8",
			wantEvents: []string{"change plan to business-8"}, wantPlan: "business-8"},
		{name: "standalone to hobbyist", state: running(RoleStandalone), plan: "hobbyist",
			wantEvents: []string{"change plan to hobbyist"}, wantPlan: "hobbyist"},
		{name: "registered cluster: recorded only", state: static, plan: "business-8",
			wantEvents: []string{"change plan to business-8"}, wantPlan: "business-8"},
		{name: "same plan", state: running(RoleStandalone), plan: "business-4", wantEvents: nil, wantPlan: "business-4"},
		{name: "leader: followers first, one at a time, then itself with them paused", state: running(RoleLeader, "f1", "f2"), plan: "business-8",
			answers: []PlanChanged{ok("f1"), ok("f2")},
			wantEvents: []string{"change-plan service/f1", "change-plan service/f2",
				"pause-integration integration/orders/f1", "pause-integration integration/orders/f2", "change plan to business-8",
				"resume-integration integration/orders/f1", "resume-integration integration/orders/f2"},
			wantPlan: "business-8"},
		{name: "a follower fails: nothing more changes", state: running(RoleLeader, "f1", "f2"), plan: "business-8",
			answers:    []PlanChanged{{Service: "f1", Plan: "business-8", Error: "node f1-0 did not start"}},
			wantFail:   "follower f1 did not change to plan business-8: node f1-0 did not start",
			wantEvents: []string{"change-plan service/f1"}, wantPlan: "business-4"},
		{name: "follower on its own", state: follower, plan: "business-8", wantReject: "change the leader's plan instead (osccr service update main --plan business-8)"},
		{name: "leader below business", state: running(RoleLeader, "f1"), plan: "startup-4", wantReject: "needs a business or premium plan"},
		{name: "unknown plan", state: running(RoleStandalone), plan: "gold", wantReject: `unknown plan "gold"`},
		{name: "not running", state: ServiceState{ServiceSpec: testSpec, State: StateFailed}, plan: "business-8", wantReject: "is FAILED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			var a *activities.Activities
			var events []string
			env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", mock.Anything, mock.Anything).Return(
				func(_, id, _, signal string, _ any) error { events = append(events, signal+" "+id); return nil })
			env.OnActivity(a.ChangeServicePlan, mock.Anything, mock.Anything).Return(func(_ context.Context, spec contract.ServiceSpec) error {
				events = append(events, "change plan to "+spec.Plan)
				return nil
			})
			var rejected, failed error
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(UpdatePlan, "", &testsuite.TestUpdateCallback{
					OnReject:   func(err error) { rejected = err },
					OnComplete: func(_ any, err error) { failed = err },
				}, PlanChange{Plan: tt.plan})
			}, time.Minute)
			for i, answer := range tt.answers {
				env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalPlanChanged, answer) }, time.Duration(i+2)*time.Minute)
			}
			var after ServiceState
			env.RegisterDelayedCallback(func() { after = queryService(t, env); env.CancelWorkflow() }, 10*time.Minute)
			st := tt.state
			env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})

			if tt.wantReject != "" {
				if rejected == nil || !strings.Contains(rejected.Error(), tt.wantReject) || len(events) != 0 {
					t.Fatalf("rejected %v after %v, want a rejection saying %q and nothing done", rejected, events, tt.wantReject)
				}
				return
			}
			if tt.wantFail != "" {
				if failed == nil || !strings.Contains(failed.Error(), tt.wantFail) || !strings.Contains(after.Reason, tt.wantFail) {
					t.Errorf("update ended with %v (reason %q), want a failure saying %q", failed, after.Reason, tt.wantFail)
				}
			} else if rejected != nil || failed != nil {
				t.Fatalf("rejected %v, failed %v", rejected, failed)
			}
			if !slices.Equal(events, tt.wantEvents) {
				t.Errorf("events %v, want %v", events, tt.wantEvents)
			}
			if after.Plan != tt.wantPlan {
				t.Errorf("plan after %q, want %q", after.Plan, tt.wantPlan)
			}
		})
	}
}

// TestFollowerPlanChange: a follower changes its plan when its leader asks, with its own
// replication paused meanwhile, and answers; it refuses (answering why) what it cannot do.
func TestFollowerPlanChange(t *testing.T) {
	follower := ServiceState{ServiceSpec: testSpec, Role: RoleFollower, Leader: "main", Followers: []string{}, State: StateRunning}
	rebuilding := follower
	rebuilding.State = StateRebuilding
	tests := []struct {
		name       string
		state      ServiceState
		req        PlanChange
		wantEvents []string
		wantAnswer PlanChanged
	}{
		{name: "asked by its leader", state: follower, req: PlanChange{Plan: "business-8", Leader: "main"},
			wantEvents: []string{"pause-integration integration/main/orders", "change plan to business-8", "resume-integration integration/main/orders", "plan-changed service/main"},
			wantAnswer: PlanChanged{Service: "orders", Plan: "business-8"}},
		{name: "still rebuilding", state: rebuilding, req: PlanChange{Plan: "business-8", Leader: "main"},
			wantEvents: []string{"plan-changed service/main"},
			wantAnswer: PlanChanged{Service: "orders", Plan: "business-8", Error: "service orders is REBUILDING; its plan can change once it is RUNNING"}},
		{name: "asked by another service", state: follower, req: PlanChange{Plan: "business-8", Leader: "intruder"},
			wantEvents: []string{"plan-changed service/intruder"},
			wantAnswer: PlanChanged{Service: "orders", Plan: "business-8", Error: "its plan must equal its leader's"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			var a *activities.Activities
			var events []string
			var answer PlanChanged
			env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", mock.Anything, mock.Anything).Return(
				func(_, id, _, signal string, arg any) error {
					events = append(events, signal+" "+id)
					if signal == SignalPlanChanged {
						answer = arg.(PlanChanged)
					}
					return nil
				})
			env.OnActivity(a.ChangeServicePlan, mock.Anything, mock.Anything).Return(func(_ context.Context, spec contract.ServiceSpec) error {
				events = append(events, "change plan to "+spec.Plan)
				return nil
			})
			env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalChangePlan, tt.req) }, time.Minute)
			var after ServiceState
			env.RegisterDelayedCallback(func() { after = queryService(t, env); env.CancelWorkflow() }, 5*time.Minute)
			st := tt.state
			env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})

			if !slices.Equal(events, tt.wantEvents) {
				t.Errorf("events %v, want %v", events, tt.wantEvents)
			}
			if answer.Service != tt.wantAnswer.Service || answer.Plan != tt.wantAnswer.Plan || !strings.Contains(answer.Error, tt.wantAnswer.Error) || (tt.wantAnswer.Error == "") != (answer.Error == "") {
				t.Errorf("answer %+v, want %+v", answer, tt.wantAnswer)
			}
			if wantPlan := map[bool]string{true: "business-8", false: "business-4"}[tt.wantAnswer.Error == ""]; after.Plan != wantPlan {
				t.Errorf("plan after %q, want %q", after.Plan, wantPlan)
			}
		})
	}
}

// TestPlanTarget: from version 4 a plan change under way shows its target plan, on the leader
// from the moment it takes the change (while its follower changes first) and on the follower
// while it applies it; both clear it once done.
func TestPlanTarget(t *testing.T) {
	for _, role := range []string{RoleLeader, RoleFollower} {
		t.Run(role, func(t *testing.T) {
			env := newEnv(t)
			var a *activities.Activities
			env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", mock.Anything, mock.Anything).Return(nil)
			// The nodes take two minutes to restart with the new plan.
			env.OnActivity(a.ChangeServicePlan, mock.Anything, mock.Anything).After(2 * time.Minute).Return(nil)
			st := ServiceState{ServiceSpec: testSpec, Role: role, Followers: []string{}, State: StateRunning}
			if role == RoleLeader {
				st.Followers = []string{"f1"}
				env.RegisterDelayedCallback(func() {
					env.UpdateWorkflow(UpdatePlan, "", &testsuite.TestUpdateCallback{OnReject: func(err error) { t.Errorf("rejected: %v", err) }, OnComplete: func(any, error) {}},
						PlanChange{Plan: "business-8"})
				}, time.Minute)
				// The follower answers at the third minute; the leader's own nodes take until the fifth.
				env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalPlanChanged, PlanChanged{Service: "f1", Plan: "business-8"}) }, 3*time.Minute)
			} else {
				st.Leader = "main"
				env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalChangePlan, PlanChange{Plan: "business-8", Leader: "main"}) }, time.Minute)
			}
			var during, after ServiceState
			env.RegisterDelayedCallback(func() { during = queryService(t, env) }, 2*time.Minute+30*time.Second)
			env.RegisterDelayedCallback(func() { after = queryService(t, env); env.CancelWorkflow() }, 10*time.Minute)
			env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})

			if during.PlanTarget != "business-8" || during.Plan != "business-4" {
				t.Errorf("during the change: plan %q, target %q; want business-4 moving to business-8", during.Plan, during.PlanTarget)
			}
			if after.PlanTarget != "" || after.Plan != "business-8" {
				t.Errorf("after the change: plan %q, target %q; want business-8 and no target", after.Plan, after.PlanTarget)
			}
		})
	}
}
