package workflows

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
)

var testInput = IndexReplicationInput{
	Leader:        contract.ClusterRef{Name: "leader", URL: "http://127.0.0.1:9200", TransportAddress: "127.0.0.1:9300"},
	Follower:      contract.ClusterRef{Name: "follower", URL: "http://127.0.0.1:9201", TransportAddress: "127.0.0.1:9301"},
	LeaderAlias:   "leader",
	LeaderIndex:   "logs",
	FollowerIndex: "logs",
}

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.Activities{})
	var a *activities.Activities
	env.OnActivity(a.PlaceService, mock.Anything, mock.Anything).Return(testMachine, nil)
	quietHealth(env)
	return env
}

// quietHealth makes every service's health watch see a green cluster that never changes: it
// reports so once, then after each maximum wait.
func quietHealth(env *testsuite.TestWorkflowEnvironment) {
	var a *activities.Activities
	env.OnActivity(a.WatchServiceHealth, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.HealthInput) (contract.ClusterHealth, error) {
			return contract.ClusterHealth{Status: "green"}, nil
		}).After(contract.DefaultHealthMaxWait)
}

// testMachine is where the tests' local services are placed.
const testMachine = "m1"

func queryState(t *testing.T, env *testsuite.TestWorkflowEnvironment) IndexReplicationState {
	t.Helper()
	v, err := env.QueryWorkflow(QueryState)
	if err != nil {
		t.Fatalf("query state: %v", err)
	}
	var st IndexReplicationState
	if err := v.Get(&st); err != nil {
		t.Fatalf("decode state: %v", err)
	}
	return st
}

// TestIndexReplicationLifecycle walks connect -> REBUILDING -> RUNNING -> PAUSED -> RUNNING ->
// STOPPED and checks which activities ran, in order, and what the state query said at each step.
func TestIndexReplicationLifecycle(t *testing.T) {
	env := newEnv(t)
	var a *activities.Activities
	var calls []string
	record := func(name string) func(mock.Arguments) { return func(mock.Arguments) { calls = append(calls, name) } }
	synced := contract.IndexStatus{Index: "logs", Status: "SYNCING", LeaderCheckpoint: 41, FollowerCheckpoint: 41}
	env.OnActivity(a.ConnectRemote, mock.Anything, mock.Anything).Return(nil).Run(record("connect"))
	env.OnActivity(a.StartReplication, mock.Anything, mock.Anything).Return(nil).Run(record("start"))
	env.OnActivity(a.WaitSyncing, mock.Anything, mock.Anything).Return(synced, nil).Run(record("wait"))
	env.OnActivity(a.PauseReplication, mock.Anything, mock.Anything).Return(nil).Run(record("pause"))
	env.OnActivity(a.ResumeReplication, mock.Anything, mock.Anything).Return(nil).Run(record("resume"))
	env.OnActivity(a.StopReplication, mock.Anything, mock.Anything).Return(nil).Run(record("stop"))

	seen := map[string]IndexReplicationState{}
	env.RegisterDelayedCallback(func() {
		seen["running"] = queryState(t, env)
		env.SignalWorkflow(SignalPause, "node recycle")
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		seen["paused"] = queryState(t, env)
		env.SignalWorkflow(SignalPause, "again") // ignored while paused
		env.SignalWorkflow(SignalResume, nil)
	}, 2*time.Minute)
	env.RegisterDelayedCallback(func() {
		seen["resumed"] = queryState(t, env)
		env.SignalWorkflow(SignalStop, nil)
	}, 3*time.Minute)

	env.ExecuteWorkflow(IndexReplicationWorkflow, testInput)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	var final IndexReplicationState
	if err := env.GetWorkflowResult(&final); err != nil {
		t.Fatal(err)
	}

	wantCalls := []string{"connect", "start", "wait", "pause", "resume", "wait", "stop"}
	if len(calls) != len(wantCalls) {
		t.Fatalf("activities ran %v, want %v", calls, wantCalls)
	}
	for i := range calls {
		if calls[i] != wantCalls[i] {
			t.Fatalf("activities ran %v, want %v", calls, wantCalls)
		}
	}
	tests := []struct {
		when, state, reason string
	}{
		{"running", StateRunning, ""},
		{"paused", StatePaused, "node recycle"},
		{"resumed", StateRunning, ""},
	}
	for _, tt := range tests {
		if got := seen[tt.when]; got.State != tt.state || got.Reason != tt.reason {
			t.Errorf("%s: state %q reason %q, want %q %q", tt.when, got.State, got.Reason, tt.state, tt.reason)
		}
	}
	if seen["running"].Status == nil || seen["running"].Status.LeaderCheckpoint != 41 {
		t.Errorf("running state carries status %+v, want checkpoints 41", seen["running"].Status)
	}
	if final.State != StateStopped {
		t.Errorf("final state %q, want %q", final.State, StateStopped)
	}
}

// TestIndexReplicationErrors checks that a failing step ends the workflow with that step's
// error, and that no later step runs.
func TestIndexReplicationErrors(t *testing.T) {
	pluginMissing := temporal.NewNonRetryableApplicationError("no handler found for uri [/_plugins/_replication/logs/_start]", contract.ErrTypePluginMissing, nil)
	exists := temporal.NewNonRetryableApplicationError("index already exists", contract.ErrTypeIndexExists, nil)
	tests := []struct {
		name      string
		input     IndexReplicationInput
		connect   error
		start     error
		wantType  string
		wantState string
		wantStart bool
	}{
		{name: "invalid input", input: IndexReplicationInput{}, wantType: "InvalidInput", wantState: StateConnecting},
		{name: "plugin missing", input: testInput, start: pluginMissing, wantType: contract.ErrTypePluginMissing, wantState: StateRebuilding, wantStart: true},
		{name: "follower index exists", input: testInput, start: exists, wantType: contract.ErrTypeIndexExists, wantState: StateRebuilding, wantStart: true},
		{name: "leader unreachable", input: testInput, connect: temporal.NewNonRetryableApplicationError("no seeds", contract.ErrTypeBadRequest, nil), wantType: contract.ErrTypeBadRequest, wantState: StateConnecting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			var a *activities.Activities
			started, waited := false, false
			env.OnActivity(a.ConnectRemote, mock.Anything, mock.Anything).Return(tt.connect)
			env.OnActivity(a.StartReplication, mock.Anything, mock.Anything).Return(tt.start).Run(func(mock.Arguments) { started = true })
			env.OnActivity(a.WaitSyncing, mock.Anything, mock.Anything).Return(contract.IndexStatus{}, nil).Run(func(mock.Arguments) { waited = true })

			env.ExecuteWorkflow(IndexReplicationWorkflow, tt.input)
			err := env.GetWorkflowError()
			var appErr *temporal.ApplicationError
			if !errors.As(err, &appErr) || appErr.Type() != tt.wantType {
				t.Fatalf("workflow error = %v, want application error of type %s", err, tt.wantType)
			}
			if started != tt.wantStart {
				t.Errorf("StartReplication ran = %v, want %v", started, tt.wantStart)
			}
			if waited {
				t.Error("WaitSyncing ran after a failed step")
			}
			if st := queryState(t, env); st.State != tt.wantState {
				t.Errorf("state %q, want %q", st.State, tt.wantState)
			}
		})
	}
}
