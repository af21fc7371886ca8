package workflows

// Reading a follower's status without adding to the history: the status-view query answers
// what the integration holds, and LiveFigures decodes the live figures its pending activities
// last heartbeat (read with DescribeWorkflowExecution). Neither is an event of the workflow.

import (
	"fmt"
	"maps"
	"slices"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/converter"

	"github.com/osccr/osccr/internal/contract"
)

// QueryIntegrationStatusView answers with a StatusView: what the integration holds of its
// follower indexes. With the live figures of LiveFigures it gives the follower's status
// (StatusView.Status) without adding an event to the history, where the status update
// (UpdateIntegrationStatus) runs activities. Registered by every run: a run started by code
// older than it answers "unknown queryType", and only such a run is asked the update.
const QueryIntegrationStatusView = "status-view"

// The names of the activities whose heartbeats carry live figures: the names they are
// registered under (activities.Register registers each method under its own name).
const (
	// WatchActivity is the leader watch (activities.WatchLeader, IntegrationWorkflow step 3):
	// it heartbeats a contract.WatchSample.
	WatchActivity = "WatchLeader"
	// WaitSyncingActivity waits for one index to be SYNCING and caught up (activities.WaitSyncing):
	// it heartbeats the plugin's contract.IndexStatus of the index.
	WaitSyncingActivity = "WaitSyncing"
)

// Plugin statuses of a follower index: its _status (SYNCING, BOOTSTRAPPING, PAUSED, FAILED)
// and its overall state in the cluster state (RUNNING, PAUSED, FAILED).
const (
	pluginSyncing = "SYNCING"
	pluginRunning = "RUNNING"
	pluginFailed  = "FAILED"
)

// StatusView answers QueryIntegrationStatusView.
type StatusView struct {
	IntegrationProgress
	// PausedBy maps each source holding a pause to its reason.
	PausedBy map[string]string `json:"paused_by,omitempty"`
	// QueuedPauses are pauses received before the integration was RUNNING.
	QueuedPauses map[string]string `json:"queued_pauses,omitempty"`
	// Indexes are the follower indexes osccr started, sorted by name, as the integration holds
	// them.
	Indexes []IndexView `json:"indexes"`
	// Watching says a watch of the leader (WatchActivity) is under way: its heartbeat holds the
	// live figures. WatchError says why none is, after a watch failed.
	Watching   bool   `json:"watching"`
	WatchError string `json:"watch_error,omitempty"`
}

// IndexView is one follower index as the integration holds it.
type IndexView struct {
	Index string `json:"index"`
	FollowedIndex
	// Halted is the plugin's PAUSED or FAILED, with its reason, at the last observation.
	Halted *contract.IndexStatus `json:"halted,omitempty"`
}

// statusView answers QueryIntegrationStatusView; it changes nothing.
func (w *integration) statusView() (StatusView, error) {
	out := StatusView{IntegrationProgress: w.st.Progress, PausedBy: maps.Clone(w.st.PausedBy), QueuedPauses: maps.Clone(w.st.QueuedPauses),
		Indexes: make([]IndexView, 0, len(w.st.Indexes)), Watching: w.watch != nil, WatchError: w.watchErr}
	for _, name := range slices.Sorted(maps.Keys(w.st.Indexes)) {
		v := IndexView{Index: name, FollowedIndex: w.st.Indexes[name]}
		if obs := w.st.Observed; obs != nil {
			if h, ok := obs.Halted[name]; ok {
				v.Halted = &h
			}
		}
		out.Indexes = append(out.Indexes, v)
	}
	return out, nil
}

// Live are the live figures an integration's pending activities last heartbeat.
type Live struct {
	// Watch is the leader watch's last sample; nil when no watch has heartbeat one.
	Watch *contract.WatchSample
	// HeartbeatAt is when Temporal received that heartbeat.
	HeartbeatAt time.Time
	// Syncing is the plugin's status of each index a WaitSyncing waits for, by follower index,
	// as it last looked.
	Syncing map[string]contract.IndexStatus
}

// LiveFigures decodes the live figures from an integration's pending activities (the
// PendingActivities of its DescribeWorkflowExecution): the one place that knows which
// activities heartbeat what. A heartbeat it cannot decode is left out.
func LiveFigures(pending []*workflowpb.PendingActivityInfo) Live {
	var out Live
	for _, pa := range pending {
		switch pa.GetActivityType().GetName() {
		case WatchActivity:
			var s contract.WatchSample
			if decodeHeartbeat(pa.GetHeartbeatDetails(), &s) == nil {
				out.Watch, out.HeartbeatAt = &s, s.SampledAt
				if beat := pa.GetLastHeartbeatTime(); beat != nil {
					out.HeartbeatAt = beat.AsTime()
				}
			}
		case WaitSyncingActivity:
			var st contract.IndexStatus
			if decodeHeartbeat(pa.GetHeartbeatDetails(), &st) == nil && st.Index != "" {
				if out.Syncing == nil {
					out.Syncing = map[string]contract.IndexStatus{}
				}
				out.Syncing[st.Index] = st
			}
		}
	}
	return out
}

// decodeHeartbeat decodes the first value of a heartbeat's details.
func decodeHeartbeat(details *commonpb.Payloads, into any) error {
	if len(details.GetPayloads()) == 0 {
		return fmt.Errorf("no heartbeat details")
	}
	return converter.GetDefaultDataConverter().FromPayload(details.GetPayloads()[0], into)
}

// Status is the follower's status from what the integration holds and the live figures: what
// the status update answers, without adding to the history. Each index's status is PAUSED
// while osccr holds it paused; else the plugin's PAUSED or FAILED, from the watch's last look
// or the integration's last observation (a RUNNING in the watch under way, which started from
// that observation, says the plugin resumed it); else what WaitSyncing last saw, SYNCING once
// the index has caught up, or BOOTSTRAPPING. Its checkpoints and lag are the watch's last
// sample (zero without one). SampledAt says when that sample was read; zero without one.
func (v StatusView) Status(live Live, now time.Time) IntegrationStatus {
	out := IntegrationStatus{IntegrationProgress: v.IntegrationProgress, PausedBy: v.PausedBy, QueuedPauses: v.QueuedPauses,
		Indexes: make([]contract.IndexStatus, 0, len(v.Indexes))}
	sample := live.Watch
	if sample != nil && sample.Version < contract.WatchSampleVersion {
		sample = nil // a watch older than samples: its lag only, no per-index figures
	}
	if sample != nil {
		out.SampledAt = sample.SampledAt
	}
	for _, ix := range v.Indexes {
		st := contract.IndexStatus{Index: ix.Index, Status: pluginBootstrapping}
		waiting, isWaiting := live.Syncing[ix.Index]
		switch {
		case isWaiting && waiting.Status != "":
			st.Status, st.Reason, st.ShardsBehind = waiting.Status, waiting.Reason, waiting.ShardsBehind
			st.LeaderCheckpoint, st.FollowerCheckpoint = waiting.LeaderCheckpoint, waiting.FollowerCheckpoint
		case ix.Syncing:
			st.Status = pluginSyncing
		}
		replicating := st
		if ix.Halted != nil {
			st.Status, st.Reason = ix.Halted.Status, ix.Halted.Reason
		}
		if sample != nil {
			s, ok := sample.Indexes[ix.Index]
			switch {
			case !ok:
			case s.State == pluginPaused || s.State == pluginFailed:
				if s.State != st.Status || s.Reason != "" {
					st.Reason = s.Reason
				}
				st.Status = s.State
			case s.State == pluginRunning && ix.Halted != nil:
				// The watch under way started from the observation that saw it halted: the
				// plugin has resumed it since.
				st.Status, st.Reason = replicating.Status, replicating.Reason
			}
			if ok && s.HasFollower {
				st.LeaderCheckpoint, st.FollowerCheckpoint = s.LeaderCheckpoint, s.FollowerCheckpoint
			}
			if sample.LeaderUnreachable {
				st.LeaderUnreachable, st.LeaderSeenAt = true, sample.LeaderSeenAt
			} else if ok && s.HasFollower {
				st.LeaderSeenAt = sample.SampledAt
			}
			if sample.Lag != nil {
				l := sample.Lag.Since(live.HeartbeatAt, now)
				if lagIx, ok := l.Indexes[ix.Index]; ok {
					seconds := lagIx.Seconds
					st.LagSeconds = &seconds
				}
			}
		}
		// osccr's own pause stands until osccr has resumed the index: a sample read before the
		// pause took effect must not show it replicating.
		if ix.Paused && st.Status != pluginFailed && st.Status != pluginPaused {
			st.Status, st.Reason = pluginPaused, ""
		}
		out.Indexes = append(out.Indexes, st)
	}
	return out
}
