package workflows

import (
	"reflect"
	"slices"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/lag"
)

// TestLiveActivityNames: the names LiveFigures looks pending activities up by are activities'
// methods, which activities.Register registers under their own names.
func TestLiveActivityNames(t *testing.T) {
	for _, name := range []string{WatchActivity, WaitSyncingActivity} {
		if _, ok := reflect.TypeOf(&activities.Activities{}).MethodByName(name); !ok {
			t.Errorf("activity %q is not a method of activities.Activities", name)
		}
	}
}

// pending is a pending activity of type name whose last heartbeat carried details (nil: none).
func pending(t *testing.T, name string, details any, beat time.Time) *workflowpb.PendingActivityInfo {
	t.Helper()
	pa := &workflowpb.PendingActivityInfo{ActivityType: &commonpb.ActivityType{Name: name}}
	if details != nil {
		p, err := converter.GetDefaultDataConverter().ToPayloads(details)
		if err != nil {
			t.Fatal(err)
		}
		pa.HeartbeatDetails, pa.LastHeartbeatTime = p, timestamppb.New(beat)
	}
	return pa
}

// TestLiveFigures: the watch's typed sample and each WaitSyncing's last look are decoded from
// the pending activities; other activities, activities that have not heartbeat and details
// that are not theirs are left out; a watch of older code (its heartbeat had the lag only)
// decodes as version 0.
func TestLiveFigures(t *testing.T) {
	now := time.Now().Truncate(time.Millisecond)
	sample := contract.WatchSample{Version: contract.WatchSampleVersion, SampledAt: now.Add(-time.Second), Polls: 4, Follower: "green",
		Lag:     &lag.Follower{Leader: "l", Indexes: map[string]lag.Index{"a": {Seconds: 0.5, Operations: 3}}, Seconds: 0.5, LastContact: now},
		Indexes: map[string]contract.IndexSample{"a": {State: "RUNNING", LeaderCheckpoint: 10, FollowerCheckpoint: 7, HasFollower: true}}}
	live := LiveFigures([]*workflowpb.PendingActivityInfo{
		pending(t, "SyncTemplates", map[string]int{"x": 1}, now),
		pending(t, WaitSyncingActivity, contract.IndexStatus{Index: "c", Status: "BOOTSTRAPPING"}, now),
		pending(t, WaitSyncingActivity, nil, now),
		pending(t, WatchActivity, sample, now),
	})
	if live.Watch == nil || !reflect.DeepEqual(live.Watch.Indexes, sample.Indexes) || !live.Watch.SampledAt.Equal(sample.SampledAt) || !live.HeartbeatAt.Equal(now) ||
		live.Watch.Lag == nil || live.Watch.Lag.Indexes["a"].Operations != 3 {
		t.Errorf("watch %+v at %s, want %+v at %s", live.Watch, live.HeartbeatAt, sample, now)
	}
	if len(live.Syncing) != 1 || live.Syncing["c"].Status != "BOOTSTRAPPING" {
		t.Errorf("syncing %+v, want c BOOTSTRAPPING", live.Syncing)
	}

	// The heartbeat of a watch older than samples: its fields, no version.
	old := map[string]any{"polls": 2, "leader_indexes": 1, "follower": "green", "lag": map[string]any{"leader": "l", "lag_seconds": 1.5}}
	live = LiveFigures([]*workflowpb.PendingActivityInfo{pending(t, WatchActivity, old, now)})
	if live.Watch == nil || live.Watch.Version != 0 || live.Watch.Lag == nil || live.Watch.Lag.Seconds != 1.5 || live.Watch.Indexes != nil {
		t.Errorf("an older watch's heartbeat: %+v, want version 0 with its lag", live.Watch)
	}
	if live := LiveFigures([]*workflowpb.PendingActivityInfo{pending(t, WatchActivity, nil, now)}); live.Watch != nil {
		t.Errorf("a watch that has not heartbeat: %+v, want none", live.Watch)
	}
}

// TestStatusViewStatus: each index's status is PAUSED while osccr holds it paused (a sample
// read before the pause took effect notwithstanding), else the plugin's PAUSED or FAILED in
// the sample or the last observation (RUNNING in the sample: resumed since), else what
// WaitSyncing saw, SYNCING once caught up; checkpoints and lag come from the sample, leader
// gone included.
func TestStatusViewStatus(t *testing.T) {
	now := time.Now()
	view := StatusView{IntegrationProgress: IntegrationProgress{State: StateRunning, Total: 5, Syncing: 3}, PausedBy: map[string]string{"operator": "why"},
		Indexes: []IndexView{
			{Index: "a", FollowedIndex: FollowedIndex{Syncing: true}},
			{Index: "b", FollowedIndex: FollowedIndex{Syncing: true}, Halted: &contract.IndexStatus{Status: "PAUSED", Reason: "AutoPaused"}}, // resumed in the plugin since
			{Index: "c"}, // WaitSyncing looks at it
			{Index: "d", FollowedIndex: FollowedIndex{Syncing: true}},                           // the plugin failed it since
			{Index: "e", FollowedIndex: FollowedIndex{Syncing: true, Held: true, Paused: true}}, // not in the sample
			{Index: "f", FollowedIndex: FollowedIndex{Syncing: true, Held: true, Paused: true}}, // paused by osccr after the sample
		}}
	sample := &contract.WatchSample{Version: contract.WatchSampleVersion, SampledAt: now.Add(-time.Second),
		Lag: &lag.Follower{Indexes: map[string]lag.Index{"a": {Seconds: 0}, "d": {Seconds: 2, Operations: 5}}, Seconds: 2},
		Indexes: map[string]contract.IndexSample{
			"a": {State: "RUNNING", LeaderCheckpoint: 10, FollowerCheckpoint: 10, HasFollower: true},
			"b": {State: "RUNNING", LeaderCheckpoint: 4, FollowerCheckpoint: 4, HasFollower: true},
			"c": {State: "RUNNING"},
			"d": {State: "FAILED", Reason: "boom", LeaderCheckpoint: 9, FollowerCheckpoint: 4, HasFollower: true},
			"f": {State: "RUNNING", LeaderCheckpoint: 6, FollowerCheckpoint: 6, HasFollower: true},
		}}
	live := Live{Watch: sample, HeartbeatAt: now.Add(-500 * time.Millisecond),
		Syncing: map[string]contract.IndexStatus{"c": {Index: "c", Status: "BOOTSTRAPPING", LeaderCheckpoint: 3, FollowerCheckpoint: 1}}}
	got := view.Status(live, now)
	type row struct {
		index, status, reason string
		leader, follower      int64
	}
	want := []row{{"a", "SYNCING", "", 10, 10}, {"b", "SYNCING", "", 4, 4}, {"c", "BOOTSTRAPPING", "", 3, 1}, {"d", "FAILED", "boom", 9, 4}, {"e", "PAUSED", "", 0, 0}, {"f", "PAUSED", "", 6, 6}}
	var rows []row
	for _, ix := range got.Indexes {
		rows = append(rows, row{ix.Index, ix.Status, ix.Reason, ix.LeaderCheckpoint, ix.FollowerCheckpoint})
	}
	if !slices.Equal(rows, want) {
		t.Errorf("indexes %+v, want %+v", rows, want)
	}
	if !got.SampledAt.Equal(sample.SampledAt) || got.Total != 5 || got.PausedBy["operator"] != "why" {
		t.Errorf("status %+v, want the sample's time, the view's progress and pauses", got)
	}
	// d is behind: its lag grows from the heartbeat to now; a is caught up: 0.
	if a, d := got.Indexes[0].LagSeconds, got.Indexes[3].LagSeconds; a == nil || *a != 0 || d == nil || *d < 2.5 {
		t.Errorf("lag seconds a %v, d %v; want 0 and 2 s brought to now (2.5 s)", a, d)
	}
	if got.Indexes[0].LeaderUnreachable || !got.Indexes[0].LeaderSeenAt.Equal(sample.SampledAt) {
		t.Errorf("index a %+v, want the leader seen at the sample", got.Indexes[0])
	}

	// The leader gone: every index says so, with when it was last seen.
	seen := now.Add(-30 * time.Second)
	sample.LeaderUnreachable, sample.LeaderSeenAt = true, seen
	got = view.Status(live, now)
	if !got.Indexes[0].LeaderUnreachable || !got.Indexes[0].LeaderSeenAt.Equal(seen) || got.Indexes[3].LagOps() != 5 {
		t.Errorf("leader gone: %+v, want unreachable, last seen %s, d 5 operations behind", got.Indexes, seen)
	}

	// No sample (or one of a watch older than samples): what the integration holds, no figures.
	for _, live := range []Live{{}, {Watch: &contract.WatchSample{Lag: sample.Lag}}} {
		got = view.Status(live, now)
		if !got.SampledAt.IsZero() || got.Indexes[0].Status != "SYNCING" || got.Indexes[1].Status != "PAUSED" || got.Indexes[1].Reason != "AutoPaused" || got.Indexes[0].LeaderCheckpoint != 0 || got.Indexes[0].LagSeconds != nil {
			t.Errorf("without a sample: %+v, want the held statuses and no figures", got)
		}
	}
}

// TestIntegrationStatusView: the status-view query answers what the integration holds (its
// progress, pauses, indexes and what the plugin halted, whether a watch runs) and runs no
// activity.
func TestIntegrationStatusView(t *testing.T) {
	env := newEnv(t)
	h := newSyncHarness(t, env, map[string]string{"x": "ux", "y": "uy"}, syncAfter)
	operator := PauseRequest{Source: PauseSourceOperator, Reason: "maintenance"}
	h.signal(2*time.Minute, SignalPauseIntegration, operator)
	h.at(3*time.Minute, func() { h.halted["y"] = contract.IndexStatus{Index: "y", Status: "FAILED", Reason: "boom"} })
	h.signal(5*time.Minute, SignalStopIntegration, nil)
	var rebuilding, paused StatusView
	query := func(d time.Duration, into *StatusView) {
		env.RegisterDelayedCallback(func() {
			v, err := env.QueryWorkflow(QueryIntegrationStatusView)
			if err != nil {
				t.Errorf("query at %s: %v", d, err)
				return
			}
			if err := v.Get(into); err != nil {
				t.Errorf("decode the view at %s: %v", d, err)
			}
		}, d)
	}
	query(2*time.Second, &rebuilding)
	query(4*time.Minute, &paused)
	env.ExecuteWorkflow(IntegrationWorkflow, h.in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if rebuilding.State != StateRebuilding || len(rebuilding.Indexes) != 2 || rebuilding.Indexes[0].Syncing || !rebuilding.Watching {
		t.Errorf("while rebuilding: %+v, want REBUILDING, x and y not yet syncing, watched", rebuilding)
	}
	if paused.State != StatePaused || paused.PausedBy[PauseSourceOperator] != "maintenance" || len(paused.Indexes) != 2 ||
		!paused.Indexes[0].Paused || !paused.Indexes[0].Syncing || paused.Indexes[1].Halted == nil || paused.Indexes[1].Halted.Reason != "boom" || !paused.Watching {
		t.Errorf("while paused: %+v, want PAUSED by the operator, x paused, y halted FAILED: boom", paused)
	}
	if got := h.between(4*time.Minute-time.Second, 4*time.Minute+time.Second); len(got) != 0 {
		t.Errorf("around the query: calls %v, want none", got)
	}
}
