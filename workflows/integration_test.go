package workflows

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/osccr/osccr/activities"
)

func TestIntegrationWorkflow(t *testing.T) {
	in := IntegrationInput{
		Leader:      activities.ClusterRef{Name: "leader", URL: "http://127.0.0.1:9200", TransportAddress: "127.0.0.1:9300"},
		Follower:    activities.ClusterRef{Name: "follower", URL: "http://127.0.0.1:9201"},
		LeaderAlias: "leader",
		ParentID:    ServiceWorkflowID("follower"),
	}
	indexes := []string{"a", "b", "c", "d", "e", "f"}
	pluginMissing := temporal.NewNonRetryableApplicationError("start replication of a: the cross-cluster-replication plugin is not installed", activities.ErrTypePluginMissing, nil)
	tests := []struct {
		name        string
		failIndex   string
		wantStates  []string // distinct states reported, in order
		wantStopped []string // indexes whose replication is stopped at the end
		wantReason  string
	}{
		{name: "all indexes sync", wantStates: []string{StateConnecting, StateRebuilding, StateRunning, StateStopped}, wantStopped: indexes},
		// "a" fails at once while the three others launched with it are still bootstrapping
		// (simulated time): no further index may start, and exactly those three are stopped.
		{name: "one index cannot start", failIndex: "a", wantStates: []string{StateConnecting, StateRebuilding, StateFailed, StateStopped},
			wantStopped: []string{"b", "c", "d"}, wantReason: "start replication of a: the cross-cluster-replication plugin is not installed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			env.RegisterWorkflow(IntegrationWorkflow)
			var a *activities.Activities
			var mu sync.Mutex
			var reports []IntegrationProgress
			var stopped, startedIdx []string
			disconnected := false
			env.OnSignalExternalWorkflow(mock.Anything, in.ParentID, "", SignalIntegrationProgress, mock.Anything).Return(
				func(_, _, _, _ string, arg any) error {
					mu.Lock()
					reports = append(reports, arg.(IntegrationProgress))
					mu.Unlock()
					return nil
				})
			env.OnActivity(a.ConnectRemote, mock.Anything, mock.Anything).Return(nil)
			env.OnActivity(a.SyncTemplates, mock.Anything, mock.Anything).Return(activities.TemplateSync{Managed: []string{"index/t"}}, nil)
			env.OnActivity(a.ListLeaderIndexes, mock.Anything, in.Leader).Return(activities.IndexPlan{
				Replicate: indexes, Excluded: []activities.Exclusion{{Index: ".kibana", Reason: "system"}}, Bytes: 1234}, nil)
			env.OnActivity(a.StartReplication, mock.Anything, mock.Anything).Return(func(_ context.Context, ix activities.IndexInput) error {
				if ix.LeaderIndex == tt.failIndex {
					return pluginMissing
				}
				mu.Lock()
				startedIdx = append(startedIdx, ix.LeaderIndex)
				mu.Unlock()
				return nil
			})
			env.OnActivity(a.WaitSyncing, mock.Anything, mock.Anything).After(10*time.Minute).Return(activities.IndexStatus{Status: "SYNCING"}, nil)
			env.OnActivity(a.StopReplication, mock.Anything, mock.Anything).Return(func(_ context.Context, ix activities.IndexInput) error {
				mu.Lock()
				stopped = append(stopped, ix.FollowerIndex)
				mu.Unlock()
				return nil
			})
			env.OnActivity(a.DisconnectRemote, mock.Anything, mock.Anything).Return(func(_ context.Context, _ activities.ConnectInput) error {
				disconnected = true
				return nil
			})
			env.OnActivity(a.ReplicationStatus, mock.Anything, mock.Anything).Return(activities.IndexStatus{LeaderCheckpoint: 7, FollowerCheckpoint: 5}, nil)
			env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalStopIntegration, nil) }, time.Hour)
			env.ExecuteWorkflow(IntegrationWorkflow, in)
			if err := env.GetWorkflowError(); err != nil {
				t.Fatalf("workflow error: %v", err)
			}

			var states []string
			for _, r := range reports {
				if len(states) == 0 || states[len(states)-1] != r.State {
					states = append(states, r.State)
				}
			}
			if !slices.Equal(states, tt.wantStates) {
				t.Errorf("reported states %v, want %v", states, tt.wantStates)
			}
			last := reports[len(reports)-2] // the state before STOPPED
			if last.Total != len(indexes) || last.Bytes != 1234 || len(last.Excluded) != 1 {
				t.Errorf("progress %+v: want total %d, 1234 bytes, 1 exclusion", last, len(indexes))
			}
			if tt.failIndex == "" && last.Syncing != len(indexes) {
				t.Errorf("syncing %d, want %d", last.Syncing, len(indexes))
			}
			if !slices.Equal(last.Templates, []string{"index/t"}) {
				t.Errorf("templates %v, want the synced set [index/t]", last.Templates)
			}
			if last.Reason != tt.wantReason {
				t.Errorf("reason %q, want %q", last.Reason, tt.wantReason)
			}
			slices.Sort(stopped) // stops run in parallel
			if !slices.Equal(stopped, tt.wantStopped) {
				t.Errorf("stopped %v, want exactly the started indexes %v", stopped, tt.wantStopped)
			}
			final := reports[len(reports)-1]
			if final.Stopped != len(tt.wantStopped) || final.LagOps != int64(2*len(tt.wantStopped)) {
				t.Errorf("STOPPED report %+v: want %d stopped, lag %d ops", final, len(tt.wantStopped), 2*len(tt.wantStopped))
			}
			if got := slices.Sorted(slices.Values(startedIdx)); !slices.Equal(got, tt.wantStopped) {
				t.Errorf("started %v, want %v", got, tt.wantStopped)
			}
			if !disconnected {
				t.Error("the remote connection was not removed")
			}
		})
	}
}

// TestIntegrationPauseResume: a RUNNING integration pauses every index it started (reporting
// PAUSED with the reason), resumes and waits for each to catch up (RUNNING again); a pause
// while not RUNNING is ignored.
func TestIntegrationPauseResume(t *testing.T) {
	in := IntegrationInput{Leader: activities.ClusterRef{Name: "l"}, Follower: activities.ClusterRef{Name: "f"}, LeaderAlias: "l", ParentID: ServiceWorkflowID("f")}
	env := newEnv(t)
	var a *activities.Activities
	var calls []string
	var reports []IntegrationProgress
	env.OnSignalExternalWorkflow(mock.Anything, in.ParentID, "", SignalIntegrationProgress, mock.Anything).Return(
		func(_, _, _, _ string, arg any) error {
			reports = append(reports, arg.(IntegrationProgress))
			return nil
		})
	env.OnActivity(a.ConnectRemote, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.SyncTemplates, mock.Anything, mock.Anything).Return(activities.TemplateSync{}, nil)
	env.OnActivity(a.ListLeaderIndexes, mock.Anything, mock.Anything).Return(activities.IndexPlan{Replicate: []string{"x", "y"}}, nil)
	env.OnActivity(a.StartReplication, mock.Anything, mock.Anything).Return(nil)
	record := func(name string) func(context.Context, activities.IndexInput) error {
		return func(_ context.Context, ix activities.IndexInput) error {
			calls = append(calls, name+" "+ix.FollowerIndex)
			return nil
		}
	}
	env.OnActivity(a.WaitSyncing, mock.Anything, mock.Anything).Return(func(_ context.Context, ix activities.IndexInput) (activities.IndexStatus, error) {
		calls = append(calls, "wait "+ix.FollowerIndex)
		return activities.IndexStatus{}, nil
	})
	env.OnActivity(a.PauseReplication, mock.Anything, mock.Anything).Return(record("pause"))
	env.OnActivity(a.ResumeReplication, mock.Anything, mock.Anything).Return(record("resume"))
	env.OnActivity(a.StopReplication, mock.Anything, mock.Anything).Return(record("stop"))
	env.OnActivity(a.DisconnectRemote, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.ReplicationStatus, mock.Anything, mock.Anything).Return(func(_ context.Context, ix activities.IndexInput) (activities.IndexStatus, error) {
		return activities.IndexStatus{Index: ix.FollowerIndex, Status: "PAUSED"}, nil
	})

	var paused, stillPaused IntegrationProgress
	var status IntegrationStatus
	recycle := PauseRequest{Source: RecyclePauseSource("f"), Reason: "node recycle"}
	operator := PauseRequest{Source: PauseSourceOperator, Reason: "paused by an operator"}
	env.RegisterDelayedCallback(func() { calls = nil; env.SignalWorkflow(SignalResumeIntegration, recycle) }, time.Minute) // not paused: ignored
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalPauseIntegration, recycle) }, 2*time.Minute)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalPauseIntegration, operator) }, 150*time.Second)
	env.RegisterDelayedCallback(func() {
		paused = reports[len(reports)-1]
		env.UpdateWorkflow(UpdateIntegrationStatus, "s1", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("status refused: %v", err) },
			OnComplete: func(v any, err error) {
				if err != nil {
					t.Errorf("status: %v", err)
					return
				}
				status = v.(IntegrationStatus)
			},
		})
		env.SignalWorkflow(SignalResumeIntegration, recycle)
	}, 3*time.Minute)
	env.RegisterDelayedCallback(func() { stillPaused = reports[len(reports)-1]; env.SignalWorkflow(SignalResumeIntegration, operator) }, 200*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalStopIntegration, nil) }, 4*time.Minute)
	env.ExecuteWorkflow(IntegrationWorkflow, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if paused.State != StatePaused || paused.Reason != "paused by an operator; node recycle" {
		t.Errorf("while paused twice: %+v, want PAUSED with both reasons", paused)
	}
	if stillPaused.State != StatePaused || stillPaused.Reason != "paused by an operator" {
		t.Errorf("after the recycle ended: %+v, want still PAUSED by the operator", stillPaused)
	}
	if status.State != StatePaused || len(status.PausedBy) != 2 || len(status.Indexes) != 2 || status.Indexes[0].Index != "x" || status.Indexes[1].Status != "PAUSED" {
		t.Errorf("status %+v, want PAUSED by two sources with indexes x and y", status)
	}
	slices.Sort(calls[len(calls)-2:]) // the stops run in parallel
	want := []string{"pause x", "pause y", "resume x", "resume y", "wait x", "wait y", "stop x", "stop y"}
	if !slices.Equal(calls, want) {
		t.Errorf("calls %v, want %v", calls, want)
	}
	var states []string
	for _, r := range reports {
		if len(states) == 0 || states[len(states)-1] != r.State {
			states = append(states, r.State)
		}
	}
	if wantStates := []string{StateConnecting, StateRebuilding, StateRunning, StatePaused, StateRunning, StateStopped}; !slices.Equal(states, wantStates) {
		t.Errorf("states %v, want %v", states, wantStates)
	}
}
