package workflows

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
)

var testSpec = contract.ServiceSpec{Name: "orders", Plan: "business-4", Cloud: "local", Region: "local", Backend: contract.BackendLocal}

func queryService(t *testing.T, env *testsuite.TestWorkflowEnvironment) ServiceState {
	t.Helper()
	v, err := env.QueryWorkflow(QueryService)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	var st ServiceState
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// deleteUpdate records what became of a delete update.
type deleteUpdate struct{ rejected, completed error }

func sendDelete(env *testsuite.TestWorkflowEnvironment) *deleteUpdate {
	u := &deleteUpdate{}
	env.UpdateWorkflow(UpdateDelete, "", &testsuite.TestUpdateCallback{
		OnReject:   func(err error) { u.rejected = err },
		OnComplete: func(_ any, err error) { u.completed = err },
	})
	return u
}

func TestServiceWorkflow(t *testing.T) {
	endpoints := contract.ServiceEndpoints{HTTPURL: "http://127.0.0.1:9200", TransportAddress: "127.0.0.1:9300", PlannedNodes: 3}
	tests := []struct {
		name          string
		provisionErr  error
		wantState     string // after provisioning
		wantReason    string
		wantEndpoints bool
	}{
		{name: "provisioned", wantState: StateRunning, wantEndpoints: true},
		{name: "provisioning fails", provisionErr: temporal.NewNonRetryableApplicationError("provision service orders: no OpenSearch distribution", contract.ErrTypeNoBackend, nil),
			wantState: StateFailed, wantReason: "provision service orders: no OpenSearch distribution"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			var a *activities.Activities
			deprovisioned := false
			env.OnActivity(a.ProvisionService, mock.Anything, placed(testSpec)).Return(endpoints, tt.provisionErr)
			env.OnActivity(a.DeprovisionService, mock.Anything, placed(testSpec)).Return(nil).Run(func(mock.Arguments) { deprovisioned = true })

			var before ServiceState
			var del *deleteUpdate
			env.RegisterDelayedCallback(func() {
				before = queryService(t, env)
				del = sendDelete(env)
			}, time.Minute)
			env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: testSpec})

			if err := env.GetWorkflowError(); err != nil {
				t.Fatalf("workflow error: %v", err)
			}
			if before.State != tt.wantState || before.Reason != tt.wantReason {
				t.Errorf("state before delete %q %q, want %q %q", before.State, before.Reason, tt.wantState, tt.wantReason)
			}
			if before.Role != RoleStandalone || before.Name != "orders" || before.Plan != "business-4" {
				t.Errorf("service %+v, want a standalone business-4 service named orders", before)
			}
			if got := before.Endpoints.HTTPURL != ""; got != tt.wantEndpoints {
				t.Errorf("endpoints %+v, want present=%v", before.Endpoints, tt.wantEndpoints)
			}
			if del.rejected != nil || del.completed != nil {
				t.Errorf("delete update: rejected %v, completed with %v; want accepted", del.rejected, del.completed)
			}
			if !deprovisioned {
				t.Error("delete did not deprovision")
			}
		})
	}
}

func TestServiceDeleteRefusals(t *testing.T) {
	tests := []struct {
		name  string
		state ServiceState
		want  string
	}{
		{"leader with followers", ServiceState{ServiceSpec: testSpec, Role: RoleLeader, Followers: []string{"orders-eu"}, State: StateRunning}, "delete or promote its followers first"},
		{"already deleting", ServiceState{ServiceSpec: testSpec, Role: RoleStandalone, State: StateDeleting}, "already being deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			var a *activities.Activities
			env.OnActivity(a.DeprovisionService, mock.Anything, mock.Anything).Return(errors.New("must not run"))
			var del *deleteUpdate
			var after ServiceState
			env.RegisterDelayedCallback(func() { del = sendDelete(env) }, time.Minute)
			env.RegisterDelayedCallback(func() { after = queryService(t, env) }, 2*time.Minute)
			env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 3*time.Minute)
			st := tt.state
			env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: testSpec, State: &st})

			if del.rejected == nil || !strings.Contains(del.rejected.Error(), tt.want) {
				t.Fatalf("delete rejected with %v, want a rejection saying %q", del.rejected, tt.want)
			}
			if after.State != tt.state.State {
				t.Errorf("state after the rejected delete %q, want it unchanged %q", after.State, tt.state.State)
			}
		})
	}
}

func TestServiceRecycleNode(t *testing.T) {
	leader := ServiceState{ServiceSpec: testSpec, Role: RoleLeader, Followers: []string{"f1", "f2"}, State: StateRunning}
	tests := []struct {
		name       string
		state      ServiceState
		wantReject string
		wantEvents []string
	}{
		// The node restarts only once every paused integration says replication has stopped.
		{name: "leader pauses its followers", state: leader, wantEvents: []string{
			"pause-integration integration/orders/f1", "pause-integration integration/orders/f2",
			"paused integration/orders/f1", "paused integration/orders/f2", "recycle",
			"resume-integration integration/orders/f1", "resume-integration integration/orders/f2"}},
		{name: "follower pauses itself", state: ServiceState{ServiceSpec: testSpec, Role: RoleFollower, Leader: "main", Followers: []string{}, State: StateRunning},
			wantEvents: []string{"pause-integration integration/main/orders", "paused integration/main/orders", "recycle", "resume-integration integration/main/orders"}},
		{name: "standalone", state: ServiceState{ServiceSpec: testSpec, Role: RoleStandalone, Followers: []string{}, State: StateRunning}, wantEvents: []string{"recycle"}},
		{name: "registered cluster", state: ServiceState{ServiceSpec: contract.ServiceSpec{Name: "ext", Backend: contract.BackendStatic}, State: StateRunning},
			wantReject: "cannot restart nodes it does not run"},
		{name: "provisioning", state: ServiceState{ServiceSpec: testSpec, State: StateProvisioning}, wantReject: "still PROVISIONING"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			var a *activities.Activities
			var events []string
			env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", mock.Anything, mock.Anything).Return(
				func(_, id, _, signal string, arg any) error {
					events = append(events, signal+" "+id)
					// The integration stops replicating, then answers (10 s later).
					if req, ok := arg.(PauseRequest); ok && signal == SignalPauseIntegration && req.ReplyTo != "" {
						env.RegisterDelayedCallback(func() {
							events = append(events, "paused "+id)
							env.SignalWorkflow(SignalPauseApplied, PauseApplied{Integration: id, Source: req.Source, State: StatePaused})
						}, 10*time.Second)
					}
					return nil
				})
			env.OnActivity(a.RecycleServiceNode, mock.Anything, mock.Anything).Return(func(_ context.Context, in contract.RecycleInput) error {
				events = append(events, "recycle")
				return nil
			})
			env.OnActivity(a.ProvisionService, mock.Anything, mock.Anything).Return(contract.ServiceEndpoints{}, nil).After(time.Hour)
			var rejected, completed error
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(UpdateRecycleNode, "", &testsuite.TestUpdateCallback{
					OnReject:   func(err error) { rejected = err },
					OnComplete: func(_ any, err error) { completed = err },
				}, "")
			}, time.Minute)
			env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 2*time.Minute)
			st := tt.state
			env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})

			if tt.wantReject != "" {
				if rejected == nil || !strings.Contains(rejected.Error(), tt.wantReject) {
					t.Fatalf("rejected with %v, want %q", rejected, tt.wantReject)
				}
				if len(events) != 0 {
					t.Errorf("a rejected recycle did %v", events)
				}
				return
			}
			if rejected != nil || completed != nil {
				t.Fatalf("recycle rejected %v, completed with %v", rejected, completed)
			}
			if !slices.Equal(events, tt.wantEvents) {
				t.Errorf("events %v, want %v", events, tt.wantEvents)
			}
		})
	}
}

func TestServicePromote(t *testing.T) {
	follower := ServiceState{ServiceSpec: testSpec, Role: RoleFollower, Leader: "main", Followers: []string{}, State: StateRunning,
		Follow: &FollowSpec{Leader: contract.ClusterRef{Name: "main"}}, Replication: &IntegrationProgress{State: StateRunning, Total: 2, Syncing: 2}}
	tests := []struct {
		name       string
		state      ServiceState
		viaSignal  bool
		wantReject string
	}{
		{name: "follower by update", state: follower},
		{name: "follower by signal", state: follower, viaSignal: true},
		{name: "standalone", state: ServiceState{ServiceSpec: testSpec, Role: RoleStandalone, Followers: []string{}, State: StateRunning}, wantReject: "only a follower can be promoted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			var signals []string
			env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", mock.Anything, mock.Anything).Return(
				func(_, id, _, signal string, _ any) error { signals = append(signals, signal+" "+id); return nil })
			var reports []PromotionReport
			var rejected error
			promote := func() {
				if tt.viaSignal {
					env.SignalWorkflow(SignalPromote, nil)
					return
				}
				env.UpdateWorkflow(UpdatePromote, "", &testsuite.TestUpdateCallback{
					OnReject: func(err error) { rejected = err },
					OnComplete: func(r any, err error) {
						if err == nil {
							reports = append(reports, r.(PromotionReport))
						}
					},
				})
			}
			var during, after ServiceState
			env.RegisterDelayedCallback(promote, time.Minute)
			env.RegisterDelayedCallback(func() { during = queryService(t, env) }, 90*time.Second)
			// The integration reports it stopped (in reality, after stopping every index).
			env.RegisterDelayedCallback(func() {
				env.SignalWorkflow(SignalIntegrationProgress, IntegrationProgress{State: StateStopped, Stopped: 2, LagOps: 5, Loss: &PromotionLoss{
					Operations: 51, AtLeast: true, LeaderLastSeen: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), LeaderLastSeenBefore: 5200 * time.Millisecond,
					Indexes: []IndexLoss{{Index: "a", Operations: 50, LeaderUnreachable: true}, {Index: "b", Operations: 1, LeaderUnreachable: true}},
				}})
			}, 2*time.Minute)
			env.RegisterDelayedCallback(promote, 3*time.Minute) // again: idempotent
			env.RegisterDelayedCallback(func() { after = queryService(t, env); env.CancelWorkflow() }, 4*time.Minute)
			st := tt.state
			env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})

			if tt.wantReject != "" {
				if rejected == nil || !strings.Contains(rejected.Error(), tt.wantReject) || len(signals) != 0 {
					t.Fatalf("rejected %v with signals %v, want a rejection saying %q and nothing sent", rejected, signals, tt.wantReject)
				}
				return
			}
			if during.State != StatePromoting {
				t.Errorf("state while promoting %q, want PROMOTING", during.State)
			}
			if want := []string{"stop-integration integration/main/orders", "remove-follower service/main"}; !slices.Equal(signals, want) {
				t.Errorf("signals %v, want %v (and nothing more on the second promote)", signals, want)
			}
			if after.State != StateRunning || after.Role != RoleStandalone || after.Leader != "" || after.Promotion == nil {
				t.Fatalf("after promotion %+v, want a RUNNING standalone service with a promotion report", after)
			}
			if p := *after.Promotion; p.FormerLeader != "main" || p.IndexesStopped != 2 || p.LagOps != 51 || p.Duration != time.Minute ||
				p.Loss == nil || len(p.Loss.Indexes) != 2 || !p.Loss.AtLeast {
				t.Errorf("report %+v, want former leader main, 2 indexes stopped, the loss (at least 51 ops, 2 indexes), 1m", p)
			}
			if want := "promoted from main: at least 51 operations behind at promotion (leader main unreachable, last seen 5.2 s before promotion"; !strings.HasPrefix(after.Reason, want) {
				t.Errorf("reason %q, want it to start %q", after.Reason, want)
			}
			if !tt.viaSignal && (len(reports) != 2 || !reflect.DeepEqual(reports[0], reports[1])) {
				t.Errorf("reports %+v, want the same report twice", reports)
			}
		})
	}
}

// TestServiceDeleteFollower: deleting a follower stops its integration first, waiting a
// bounded time: one that does not stop in time is cancelled, one that is not running is not
// waited for; the nodes are removed in every case and the outcome says what happened.
func TestServiceDeleteFollower(t *testing.T) {
	follower := ServiceState{ServiceSpec: testSpec, Role: RoleFollower, Leader: "main", Followers: []string{}, State: StateRunning,
		Follow: &FollowSpec{Leader: contract.ClusterRef{Name: "main"}}, Replication: &IntegrationProgress{State: StateRunning, Total: 1, Syncing: 1}}
	integration := IntegrationWorkflowID("main", "orders")
	tests := []struct {
		name          string
		stopsAfter    time.Duration // 0: never reports STOPPED
		signalErr     error
		wantCancel    bool
		wantReason    string
		wantDeletedAt time.Duration // simulated time of the deprovisioning, at least
	}{
		{name: "integration stops", stopsAfter: 30 * time.Second, wantReason: "deleted", wantDeletedAt: 90 * time.Second},
		{name: "integration hangs", wantCancel: true, wantDeletedAt: time.Minute + integrationStopTimeout,
			wantReason: "deleted; integration integration/main/orders did not stop within 3m0s (it was RUNNING): cancelled; follower indexes it had started may still be replicating"},
		{name: "integration gone", signalErr: errors.New("unknown external workflow execution"), wantDeletedAt: time.Minute,
			wantReason: "deleted; integration integration/main/orders was not running (unknown external workflow execution): replication was not stopped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			var a *activities.Activities
			var signals []string
			begin := env.Now()
			env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", mock.Anything, mock.Anything).Return(
				func(_, id, _, signal string, _ any) error {
					signals = append(signals, signal+" "+id)
					if id == integration {
						return tt.signalErr
					}
					return nil
				})
			cancelled := false
			env.OnRequestCancelExternalWorkflow(mock.Anything, integration, "").Return(nil).Run(func(mock.Arguments) { cancelled = true })
			var deletedAt time.Duration
			env.OnActivity(a.DeprovisionService, mock.Anything, testSpec).Return(nil).Run(func(mock.Arguments) { deletedAt = env.Now().Sub(begin) })
			var del *deleteUpdate
			env.RegisterDelayedCallback(func() { del = sendDelete(env) }, time.Minute)
			if tt.stopsAfter > 0 {
				env.RegisterDelayedCallback(func() {
					env.SignalWorkflow(SignalIntegrationProgress, IntegrationProgress{State: StateStopped, Stopped: 1})
				}, time.Minute+tt.stopsAfter)
			}
			st := follower
			env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})
			if err := env.GetWorkflowError(); err != nil {
				t.Fatalf("workflow error: %v", err)
			}
			if del.rejected != nil || del.completed != nil {
				t.Fatalf("delete: rejected %v, completed with %v", del.rejected, del.completed)
			}
			var final ServiceState
			if err := env.GetWorkflowResult(&final); err != nil {
				t.Fatal(err)
			}
			if final.Reason != tt.wantReason {
				t.Errorf("final reason %q, want %q", final.Reason, tt.wantReason)
			}
			if cancelled != tt.wantCancel {
				t.Errorf("integration cancelled: %v, want %v", cancelled, tt.wantCancel)
			}
			if deletedAt < tt.wantDeletedAt || deletedAt > tt.wantDeletedAt+time.Minute {
				t.Errorf("deprovisioned at %s, want at %s", deletedAt, tt.wantDeletedAt)
			}
			if !slices.Contains(signals, "remove-follower service/main") {
				t.Errorf("signals %v: the follower did not leave its leader's list", signals)
			}
		})
	}
}

// placed is a local service's spec once it is placed on testMachine.
func placed(spec contract.ServiceSpec) contract.ServiceSpec {
	spec.Machine = testMachine
	return spec
}

// TestServiceRecycleUnconfirmedPause: an integration that never answers the pause (its worker
// is gone, say) holds the restart back at most pauseConfirmTimeout, then the node
// restarts and the reason says so.
func TestServiceRecycleUnconfirmedPause(t *testing.T) {
	env := newEnv(t)
	var a *activities.Activities
	began := env.Now()
	var recycledAt time.Duration
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.RecycleServiceNode, mock.Anything, mock.Anything).Return(func(context.Context, contract.RecycleInput) error {
		recycledAt = env.Now().Sub(began)
		return nil
	})
	var completed error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateRecycleNode, "", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { t.Errorf("rejected: %v", err) },
			OnComplete: func(_ any, err error) { completed = err },
		}, "")
	}, time.Minute)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 10*time.Minute)
	st := ServiceState{ServiceSpec: testSpec, Role: RoleFollower, Leader: "main", Followers: []string{}, State: StateRunning}
	env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})
	if completed != nil {
		t.Fatalf("recycle: %v", completed)
	}
	if want := time.Minute + pauseConfirmTimeout; recycledAt < want || recycledAt > want+time.Minute {
		t.Errorf("node recycled at %s, want right after the %s the pause was waited for (at %s)", recycledAt, pauseConfirmTimeout, want)
	}
}
