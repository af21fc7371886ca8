package workflows

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
)

func runningFollower() ServiceState {
	return ServiceState{ServiceSpec: testSpec, Role: RoleFollower, Leader: "main", Followers: []string{}, State: StateRunning,
		Follow: &FollowSpec{Leader: contract.ClusterRef{Name: "main"}}, Replication: &IntegrationProgress{State: StateRunning, Total: 2, Syncing: 2}}
}

// continuedAs decodes the input a workflow continued as new with.
func continuedAs(t *testing.T, env *testsuite.TestWorkflowEnvironment) ServiceInput {
	t.Helper()
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	var next ServiceInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	return next
}

// TestServicePromoteBounded: a promotion waits a bounded time for the integration's STOPPED
// report; without it (or when the integration cannot be told) it fails with the reason and
// the service is back as it was, still a follower; a STOPPED report that names what failed and
// what was deleted is carried into the promotion report.
func TestServicePromoteBounded(t *testing.T) {
	stoppedWithProblems := IntegrationProgress{State: StateStopped, Stopped: 1, LagOps: 3, DeletedRestoring: []string{"logs"},
		Problems: []Problem{{Index: "b", Status: ProblemStopFailed, Reason: "boom"}},
		Reason:   "replication stopped, except: index b STOP_FAILED: boom; logs were still restoring from the leader: the plugin's _stop deleted them"}
	tests := []struct {
		name       string
		signalErr  error
		report     *IntegrationProgress // sent 1m after the promote, if set
		wantErr    string
		wantState  string
		wantRole   string
		wantReason string
	}{
		{name: "integration never reports", wantState: StateRunning, wantRole: RoleFollower,
			wantErr: "integration integration/main/orders did not report STOPPED within 3m0s (it was RUNNING)"},
		{name: "integration gone", signalErr: errors.New("unknown external workflow execution"), wantState: StateRunning, wantRole: RoleFollower,
			wantErr: "integration integration/main/orders could not be told to stop (unknown external workflow execution)"},
		{name: "stopped with problems", report: &stoppedWithProblems, wantState: StateRunning, wantRole: RoleStandalone, wantReason: stoppedWithProblems.Reason},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", mock.Anything, mock.Anything).Return(
				func(_, id, _, signal string, _ any) error {
					if signal == SignalStopIntegration {
						return tt.signalErr
					}
					return nil
				})
			var report PromotionReport
			var completed error
			done := false
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(UpdatePromote, "", &testsuite.TestUpdateCallback{
					OnReject: func(err error) { t.Errorf("promote rejected: %v", err) },
					OnComplete: func(r any, err error) {
						done, completed = true, err
						report, _ = r.(PromotionReport)
					},
				})
			}, time.Minute)
			if tt.report != nil {
				env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalIntegrationProgress, *tt.report) }, 2*time.Minute)
			}
			var after ServiceState
			env.RegisterDelayedCallback(func() { after = queryService(t, env); env.CancelWorkflow() }, 10*time.Minute)
			st := runningFollower()
			env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})

			if !done {
				t.Fatal("the promotion never returned")
			}
			if tt.wantErr != "" {
				if completed == nil || !strings.Contains(completed.Error(), tt.wantErr) {
					t.Fatalf("promotion ended with %v, want an error saying %q", completed, tt.wantErr)
				}
				if !strings.Contains(after.Reason, tt.wantErr) {
					t.Errorf("reason after %q, want it to say %q", after.Reason, tt.wantErr)
				}
			} else if completed != nil {
				t.Fatalf("promotion failed: %v", completed)
			}
			if after.State != tt.wantState || after.Role != tt.wantRole {
				t.Errorf("after the promotion %s %s, want %s %s", after.State, after.Role, tt.wantState, tt.wantRole)
			}
			if tt.report != nil {
				if !slices.Equal(report.IndexesDeleted, []string{"logs"}) || !slices.Equal(report.Problems, tt.report.Problems) || report.IndexesStopped != 1 {
					t.Errorf("report %+v, want the deleted index and the problem of the STOPPED report", report)
				}
				if after.Reason != tt.wantReason {
					t.Errorf("reason %q, want %q", after.Reason, tt.wantReason)
				}
			}
		})
	}
}

// TestServiceContinueAsNewWaits: continuing as new waits for a promotion started by signal
// (so the next run is not left PROMOTING) and for the update handlers, and a signal that
// arrives during that wait is handled, not dropped.
func TestServiceContinueAsNewWaits(t *testing.T) {
	t.Run("promotion by signal", func(t *testing.T) {
		env := newEnv(t)
		env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", mock.Anything, mock.Anything).Return(nil)
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalPromote, nil) }, time.Minute)
		env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 90*time.Second)
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(SignalIntegrationProgress, IntegrationProgress{State: StateStopped, Stopped: 2})
		}, 2*time.Minute)
		st := runningFollower()
		env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})
		next := continuedAs(t, env)
		if s := next.State; s == nil || s.State != StateRunning || s.Role != RoleStandalone || s.Promotion == nil {
			t.Fatalf("next run starts with %+v, want the promotion finished (RUNNING, standalone, with its report)", next.State)
		}
	})
	t.Run("signal during a handler", func(t *testing.T) {
		env := newEnv(t)
		var a *activities.Activities
		env.OnActivity(a.RecycleServiceNode, mock.Anything, mock.Anything).After(2 * time.Minute).Return(func(context.Context, contract.RecycleInput) error { return nil })
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(UpdateRecycleNode, "", &testsuite.TestUpdateCallback{OnReject: func(err error) { t.Errorf("recycle rejected: %v", err) }}, "")
		}, time.Minute)
		env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 70*time.Second)
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalAddFollower, "f1") }, 80*time.Second)
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalAddFollower, "f2") }, 2*time.Minute)
		st := ServiceState{ServiceSpec: testSpec, Role: RoleStandalone, Followers: []string{}, State: StateRunning}
		env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})
		next := continuedAs(t, env)
		if s := next.State; s == nil || !slices.Equal(s.Followers, []string{"f1", "f2"}) || s.Role != RoleLeader {
			t.Fatalf("next run starts with %+v, want followers f1 and f2 (f2 arrived while the recycle finished)", next.State)
		}
	})
}

// TestServiceRecycleRefusedWhenPauseFails: a recycle whose pause cannot be delivered restarts
// nothing, lifts the pauses it did deliver, and says why.
func TestServiceRecycleRefusedWhenPauseFails(t *testing.T) {
	env := newEnv(t)
	var a *activities.Activities
	var events []string
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", mock.Anything, mock.Anything).Return(
		func(_, id, _, signal string, _ any) error {
			events = append(events, signal+" "+id)
			if id == IntegrationWorkflowID("orders", "f2") {
				return errors.New("unknown external workflow execution")
			}
			return nil
		})
	env.OnActivity(a.RecycleServiceNode, mock.Anything, mock.Anything).Return(func(context.Context, contract.RecycleInput) error {
		events = append(events, "recycle")
		return nil
	})
	var completed error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateRecycleNode, "", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { t.Errorf("recycle rejected: %v", err) },
			OnComplete: func(_ any, err error) { completed = err },
		}, "")
	}, time.Minute)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 2*time.Minute)
	st := ServiceState{ServiceSpec: testSpec, Role: RoleLeader, Followers: []string{"f1", "f2"}, State: StateRunning}
	env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})

	want := "could not pause replication of integration/orders/f2 (unknown external workflow execution): nothing was restarted"
	if completed == nil || !strings.Contains(completed.Error(), want) {
		t.Fatalf("recycle ended with %v, want an error saying %q", completed, want)
	}
	wantEvents := []string{"pause-integration integration/orders/f1", "pause-integration integration/orders/f2", "resume-integration integration/orders/f1"}
	if !slices.Equal(events, wantEvents) {
		t.Errorf("events %v, want %v (no recycle)", events, wantEvents)
	}
}

// TestServiceLifecycleHeartbeats: the long lifecycle activities (provision, recycle, deprovision)
// run with a heartbeat timeout, so a call lost with a crashed worker is retried soon.
func TestServiceLifecycleHeartbeats(t *testing.T) {
	env := newEnv(t)
	var a *activities.Activities
	timeouts := map[string]time.Duration{}
	queues := map[string]string{}
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		timeouts[info.ActivityType.Name] = info.HeartbeatTimeout
		queues[info.ActivityType.Name] = info.TaskQueue
	})
	env.OnActivity(a.ProvisionService, mock.Anything, mock.Anything).Return(contract.ServiceEndpoints{HTTPURL: "http://127.0.0.1:9200"}, nil)
	env.OnActivity(a.RecycleServiceNode, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.DeprovisionService, mock.Anything, mock.Anything).Return(nil)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateRecycleNode, "", &testsuite.TestUpdateCallback{OnReject: func(err error) { t.Errorf("recycle rejected: %v", err) }}, "")
	}, time.Minute)
	env.RegisterDelayedCallback(func() { sendDelete(env) }, 2*time.Minute)
	env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: testSpec})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ProvisionService", "RecycleServiceNode", "DeprovisionService"} {
		if got := timeouts[name]; got != contract.LifecycleHeartbeatTimeout {
			t.Errorf("%s heartbeat timeout %s, want %s", name, got, contract.LifecycleHeartbeatTimeout)
		}
		// Bound to the service's nodes: they run on the task queue of the machine that holds them.
		if got, want := queues[name], MachineTaskQueue(testMachine); got != want {
			t.Errorf("%s ran on task queue %q, want %q", name, got, want)
		}
	}
}

// TestServiceDeleteNotStranded: a delete is refused while a promotion or a node recycle runs
// (accepted, it raced them and could leave the service DELETING with no way out); a run that
// starts DELETING (carried from a run that continued as new mid-delete) deletes.
func TestServiceDeleteNotStranded(t *testing.T) {
	tests := []struct {
		name       string
		state      ServiceState
		start      func(env *testsuite.TestWorkflowEnvironment)
		wantReject string
	}{
		{name: "while promoting", state: runningFollower(), wantReject: "is being promoted",
			start: func(env *testsuite.TestWorkflowEnvironment) { env.SignalWorkflow(SignalPromote, nil) }},
		{name: "while recycling", state: ServiceState{ServiceSpec: testSpec, Role: RoleStandalone, Followers: []string{}, State: StateRunning}, wantReject: "is being recycled",
			start: func(env *testsuite.TestWorkflowEnvironment) {
				env.UpdateWorkflow(UpdateRecycleNode, "", &testsuite.TestUpdateCallback{}, "")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			var a *activities.Activities
			env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", mock.Anything, mock.Anything).Return(nil)
			env.OnRequestCancelExternalWorkflow(mock.Anything, mock.Anything, "").Return(nil)
			env.OnActivity(a.RecycleServiceNode, mock.Anything, mock.Anything).After(10 * time.Minute).Return(nil)
			env.OnActivity(a.DeprovisionService, mock.Anything, mock.Anything).Return(nil)
			env.RegisterDelayedCallback(func() { tt.start(env) }, time.Minute)
			var del *deleteUpdate
			env.RegisterDelayedCallback(func() { del = sendDelete(env) }, 2*time.Minute)
			var after ServiceState
			env.RegisterDelayedCallback(func() { after = queryService(t, env); env.CancelWorkflow() }, 3*time.Minute)
			st := tt.state
			env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})
			if del.rejected == nil || !strings.Contains(del.rejected.Error(), tt.wantReject) {
				t.Fatalf("delete rejected with %v, want a rejection saying %q", del.rejected, tt.wantReject)
			}
			if after.State == StateDeleting {
				t.Errorf("state %s after a refused delete", after.State)
			}
		})
	}
	t.Run("run starts DELETING", func(t *testing.T) {
		env := newEnv(t)
		var a *activities.Activities
		deprovisioned := false
		env.OnActivity(a.DeprovisionService, mock.Anything, testSpec).Return(nil).Run(func(mock.Arguments) { deprovisioned = true })
		env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, time.Hour)
		st := ServiceState{ServiceSpec: testSpec, Role: RoleStandalone, Followers: []string{}, State: StateDeleting, Reason: "deletion requested"}
		env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})
		if err := env.GetWorkflowError(); err != nil || !deprovisioned {
			t.Fatalf("ended with %v, deprovisioned %v: want the delete carried on", err, deprovisioned)
		}
	})
}

// TestServiceFollowUndoneWhenIntegrationCannotStart: a follow whose leader cannot be told
// fails with the reason, and the service is the standalone service it was, not a follower
// without an integration.
func TestServiceFollowUndoneWhenIntegrationCannotStart(t *testing.T) {
	env := newEnv(t)
	env.RegisterWorkflow(IntegrationWorkflow)
	var a *activities.Activities
	env.OnSignalExternalWorkflow(mock.Anything, ServiceWorkflowID("main"), "", SignalAddFollower, mock.Anything).Return(errors.New("workflow execution already completed"))
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.ListLeaderIndexes, mock.Anything, mock.Anything).Return(contract.IndexPlan{Replicate: []string{}}, nil)
	var failed error
	completed := false
	req := FollowRequest{Leader: contract.ClusterRef{Name: "main", URL: "http://127.0.0.1:9200", TransportAddress: "127.0.0.1:9300"}, LeaderPlan: "business-4"}
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateFollow, "", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { t.Errorf("follow rejected: %v", err) },
			OnComplete: func(_ any, err error) { completed, failed = true, err },
		}, req)
	}, time.Minute)
	var after ServiceState
	env.RegisterDelayedCallback(func() { after = queryService(t, env); env.CancelWorkflow() }, 2*time.Minute)
	st := ServiceState{ServiceSpec: testSpec, Role: RoleStandalone, Followers: []string{}, State: StateRunning,
		Endpoints: contract.ServiceEndpoints{HTTPURL: "http://127.0.0.1:9201", TransportAddress: "127.0.0.1:9301"}}
	env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})
	want := "orders cannot follow main: leader main is gone: workflow execution already completed; it is still a standalone service"
	if !completed || failed == nil || failed.Error() != want {
		t.Fatalf("follow ended with %v, want %q", failed, want)
	}
	if after.Role != RoleStandalone || after.Follow != nil || after.Leader != "" || after.State != StateRunning || after.Replication != nil {
		t.Errorf("after %+v, want the RUNNING standalone service it was", after)
	}
}

// TestServiceLateStopReport: the integration's STOPPED report arriving after the promotion gave
// up says so on the service, and promoting again finishes at once.
func TestServiceLateStopReport(t *testing.T) {
	env := newEnv(t)
	var signals []string
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", mock.Anything, mock.Anything).Return(
		func(_, id, _, signal string, _ any) error { signals = append(signals, signal+" "+id); return nil })
	promote := func() { env.UpdateWorkflow(UpdatePromote, "", &testsuite.TestUpdateCallback{}) }
	env.RegisterDelayedCallback(promote, time.Minute) // gives up at 4m
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalIntegrationProgress, IntegrationProgress{State: StateStopped, Stopped: 2, Reason: "replication stopped and the remote connection removed"})
	}, 5*time.Minute)
	var late ServiceState
	env.RegisterDelayedCallback(func() { late = queryService(t, env) }, 6*time.Minute)
	env.RegisterDelayedCallback(promote, 7*time.Minute)
	var after ServiceState
	env.RegisterDelayedCallback(func() { after = queryService(t, env); env.CancelWorkflow() }, 8*time.Minute)
	st := runningFollower()
	env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})
	if late.Role != RoleFollower || !strings.Contains(late.Reason, "promote again to finish it") {
		t.Errorf("after the late report: %s %q, want a follower saying to promote again", late.Role, late.Reason)
	}
	if after.Role != RoleStandalone || after.Promotion == nil || after.Promotion.IndexesStopped != 2 {
		t.Errorf("after promoting again: %+v, want promoted with 2 indexes stopped", after)
	}
	if n := slices.Index(signals, "stop-integration integration/main/orders"); n < 0 || slices.Contains(signals[n+1:], "stop-integration integration/main/orders") {
		t.Errorf("signals %v, want the integration told to stop once (the second promotion finds it stopped)", signals)
	}
}
