package workflows

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
)

// Signals between a follower's service workflow and its integration workflow.
const (
	// SignalIntegrationProgress carries an IntegrationProgress from the integration to the
	// follower's service workflow.
	SignalIntegrationProgress = "integration-progress"
	// SignalStopIntegration asks the integration to stop replicating and disconnect.
	SignalStopIntegration = "stop-integration"
	// SignalPauseIntegration and SignalResumeIntegration, each with a PauseRequest, pause and
	// resume a RUNNING integration: for an operator, or while a node of the leader or follower
	// is recycled. Pauses are keyed by their source; replication resumes when the last is lifted.
	SignalPauseIntegration  = "pause-integration"
	SignalResumeIntegration = "resume-integration"
	// UpdateIntegrationStatus answers with an IntegrationStatus: the integration's state and the
	// live status and checkpoints of every follower index.
	UpdateIntegrationStatus = "status"
)

// Sources of a pause. A recycle pauses with RecyclePauseSource(service).
const (
	PauseSourceOperator = "operator"
	PauseSourceHealth   = "health"
)

// RecyclePauseSource is the pause source of a node recycle of the service.
func RecyclePauseSource(service string) string { return "recycle/" + service }

// PauseRequest pauses (or, with SignalResumeIntegration, lifts the pause of) one source.
type PauseRequest struct {
	Source string `json:"source"`
	Reason string `json:"reason,omitempty"`
}

// IntegrationStatus is the answer to UpdateIntegrationStatus.
type IntegrationStatus struct {
	IntegrationProgress
	// PausedBy maps each source holding a pause to its reason.
	PausedBy map[string]string `json:"paused_by,omitempty"`
	// Indexes is the live replication status of every follower index osccr started.
	Indexes []activities.IndexStatus `json:"indexes"`
}

// rebuildConcurrency bounds how many indexes bootstrap at once: each is a restore from the
// leader, and the plugin itself starts at most a few at a time.
const rebuildConcurrency = 4

// IntegrationWorkflowID is the ID of the replication integration between two services.
func IntegrationWorkflowID(leader, follower string) string {
	return fmt.Sprintf("integration/%s/%s", leader, follower)
}

// IntegrationInput starts the replication integration of a follower.
type IntegrationInput struct {
	Leader      activities.ClusterRef `json:"leader"`
	Follower    activities.ClusterRef `json:"follower"`
	LeaderAlias string                `json:"leader_alias"`
	// ParentID is the follower's service workflow, which receives progress signals.
	ParentID string `json:"parent_id"`
}

// index is the replication of one leader index into the follower index of the same name.
func (in IntegrationInput) index(name string) activities.IndexInput {
	return activities.IndexInput{Follower: in.Follower, Leader: in.Leader, LeaderAlias: in.LeaderAlias, LeaderIndex: name, FollowerIndex: name}
}

// IntegrationProgress is what the integration tells the follower's service workflow.
type IntegrationProgress struct {
	State    string                 `json:"state"`
	Reason   string                 `json:"reason,omitempty"`
	Total    int                    `json:"total"`
	Syncing  int                    `json:"syncing"`
	Bytes    int64                  `json:"bytes"`
	Excluded []activities.Exclusion `json:"excluded,omitempty"`
	// Stopped and LagOps are set with STOPPED: how many follower indexes were stopped, and how
	// many operations they were behind their leader indexes when they were stopped.
	Stopped int   `json:"stopped,omitempty"`
	LagOps  int64 `json:"lag_ops,omitempty"`
	// Templates are the index and component templates osccr keeps on the follower.
	Templates []string `json:"templates,omitempty"`
}

// IntegrationWorkflow replicates the whole leader cluster into the follower:
//
//  1. connect the follower to the leader and wait until connected;
//  2. REBUILDING: copy the leader's index and component templates (the plugin does not), list
//     the leader's indexes (user indexes replicate; system, hidden and closed ones are
//     excluded with the reason) and start replicating each, at most rebuildConcurrency at a
//     time, each until SYNCING and caught up;
//  3. RUNNING once every index is; FAILED with the reason if one cannot start;
//  4. while RUNNING, pause (every index paused: the leader keeps every operation for the
//     resume) and resume (every index resumed and caught up) on request;
//  5. on the stop signal (the follower is deleted or promoted): stop every index it started, in
//     parallel (each becomes an ordinary writable index), remove the remote connection, report
//     STOPPED with the ops lag at that moment, and end.
//
// Every change of state is signalled to the follower's service workflow, which holds the state
// operators see.
func IntegrationWorkflow(ctx workflow.Context, in IntegrationInput) error {
	progress := IntegrationProgress{State: StateConnecting}
	report := func() {
		// The parent may be between runs (continue-as-new): the signal waits for the new run.
		_ = workflow.SignalExternalWorkflow(ctx, in.ParentID, "", SignalIntegrationProgress, progress).Get(ctx, nil)
	}
	stop := workflow.GetSignalChannel(ctx, SignalStopIntegration)
	var a *activities.Activities
	short := withIO(ctx, time.Minute, 0)
	wait := withIO(ctx, 30*time.Minute, 30*time.Second)
	connect := activities.ConnectInput{Follower: in.Follower, Leader: in.Leader, LeaderAlias: in.LeaderAlias}
	started := map[string]bool{}
	pausedBy := map[string]string{}
	if err := workflow.SetUpdateHandler(ctx, UpdateIntegrationStatus, func(ctx workflow.Context) (IntegrationStatus, error) {
		return integrationStatus(ctx, in, progress, pausedBy, started), nil
	}); err != nil {
		return err
	}

	fail := func(err error) {
		progress.State, progress.Reason = StateFailed, failureReason(err)
		report()
	}
	run := func() {
		// Step 1: connect.
		report()
		if err := workflow.ExecuteActivity(wait, a.ConnectRemote, connect).Get(ctx, nil); err != nil {
			fail(err)
			return
		}
		// Step 2: rebuild. Templates first: the plugin never copies them, and a follower that is
		// promoted later must create new indexes as its leader would.
		var templates activities.TemplateSync
		if err := workflow.ExecuteActivity(short, a.SyncTemplates, activities.SyncTemplatesInput{Leader: in.Leader, Follower: in.Follower, Managed: progress.Templates}).Get(ctx, &templates); err != nil {
			fail(err)
			return
		}
		progress.Templates = templates.Managed
		var plan activities.IndexPlan
		if err := workflow.ExecuteActivity(short, a.ListLeaderIndexes, in.Leader).Get(ctx, &plan); err != nil {
			fail(err)
			return
		}
		progress.State, progress.Total, progress.Bytes, progress.Excluded = StateRebuilding, len(plan.Replicate), plan.Bytes, plan.Excluded
		report()
		if err := rebuild(ctx, in, plan.Replicate, started, func() { progress.Syncing++; report() }); err != nil {
			fail(err)
			return
		}
		// Step 3: running.
		progress.State = StateRunning
		report()
	}
	run()

	// Step 4: serve pause and resume until stopped.
	pauses := workflow.GetSignalChannel(ctx, SignalPauseIntegration)
	resumes := workflow.GetSignalChannel(ctx, SignalResumeIntegration)
	each := func(act any, opts workflow.Context) error {
		for _, index := range slices.Sorted(maps.Keys(started)) {
			if err := workflow.ExecuteActivity(opts, act, in.index(index)).Get(ctx, nil); err != nil {
				return err
			}
		}
		return nil
	}
	for stopped := false; !stopped; {
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(stop, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); stopped = true })
		sel.AddReceive(pauses, func(c workflow.ReceiveChannel, _ bool) {
			var req PauseRequest
			c.Receive(ctx, &req)
			if progress.State != StateRunning && progress.State != StatePaused {
				return // only a RUNNING integration pauses (the plugin refuses a pause while bootstrapping)
			}
			pausedBy[req.Source] = req.Reason
			if progress.State == StateRunning {
				if err := each(a.PauseReplication, short); err != nil {
					fail(err)
					return
				}
				progress.State = StatePaused
			}
			progress.Reason = pauseReason(pausedBy)
			report()
		})
		sel.AddReceive(resumes, func(c workflow.ReceiveChannel, _ bool) {
			var req PauseRequest
			c.Receive(ctx, &req)
			if _, held := pausedBy[req.Source]; !held || progress.State != StatePaused {
				return
			}
			delete(pausedBy, req.Source)
			if len(pausedBy) > 0 {
				progress.Reason = pauseReason(pausedBy)
				report()
				return
			}
			if err := each(a.ResumeReplication, short); err != nil {
				fail(err)
				return
			}
			if err := each(a.WaitSyncing, wait); err != nil {
				fail(err)
				return
			}
			progress.State, progress.Reason = StateRunning, ""
			report()
		})
		sel.Select(ctx)
	}

	// Step 5: stop, all indexes at once, noting how far behind each was.
	indexes := slices.Sorted(maps.Keys(started))
	statuses := make([]workflow.Future, len(indexes))
	for i, index := range indexes {
		statuses[i] = workflow.ExecuteActivity(short, a.ReplicationStatus, in.index(index))
	}
	for _, f := range statuses {
		var st activities.IndexStatus
		if f.Get(ctx, &st) == nil { // best effort: the lag is a report, not a precondition
			progress.LagOps += st.LagOps()
		}
	}
	stops := make([]workflow.Future, len(indexes))
	for i, index := range indexes {
		stops[i] = workflow.ExecuteActivity(short, a.StopReplication, in.index(index))
	}
	for _, f := range stops {
		if err := f.Get(ctx, nil); err != nil {
			return err
		}
	}
	progress.Stopped = len(indexes)
	if err := workflow.ExecuteActivity(short, a.DisconnectRemote, connect).Get(ctx, nil); err != nil {
		return err
	}
	progress.State, progress.Reason = StateStopped, "replication stopped and the remote connection removed"
	report()
	return nil
}

// rebuild starts replicating every index, at most rebuildConcurrency at a time, and waits until
// each is SYNCING; onSyncing runs as each one gets there. After the first failure it starts no
// more indexes, waits for the ones under way, and returns that failure. started records the
// indexes whose replication was started, so that stopping can undo exactly them.
func rebuild(ctx workflow.Context, in IntegrationInput, indexes []string, started map[string]bool, onSyncing func()) error {
	var a *activities.Activities
	short := withIO(ctx, time.Minute, 0)
	wait := withIO(ctx, 30*time.Minute, 30*time.Second)
	finished := workflow.NewChannel(ctx)
	failures := map[string]error{}
	var firstErr error
	next, running := 0, 0
	launch := func() {
		index := indexes[next]
		next++
		running++
		workflow.Go(ctx, func(ctx workflow.Context) {
			ix := in.index(index)
			err := workflow.ExecuteActivity(short, a.StartReplication, ix).Get(ctx, nil)
			if err == nil {
				started[index] = true
				err = workflow.ExecuteActivity(wait, a.WaitSyncing, ix).Get(ctx, nil)
			}
			failures[index] = err
			finished.Send(ctx, index)
		})
	}
	for next < len(indexes) && running < rebuildConcurrency {
		launch()
	}
	for running > 0 {
		var index string
		finished.Receive(ctx, &index)
		running--
		if err := failures[index]; err != nil {
			if firstErr == nil {
				firstErr = err
			}
		} else {
			onSyncing()
		}
		if firstErr == nil && next < len(indexes) {
			launch()
		}
	}
	return firstErr
}

// pauseReason is every held pause's reason, in a stable order.
func pauseReason(pausedBy map[string]string) string {
	reasons := make([]string, 0, len(pausedBy))
	for _, source := range slices.Sorted(maps.Keys(pausedBy)) {
		reasons = append(reasons, pausedBy[source])
	}
	return strings.Join(reasons, "; ")
}

// integrationStatus asks for the status of every follower index at once. An index whose status
// cannot be read says so rather than failing the whole answer.
func integrationStatus(ctx workflow.Context, in IntegrationInput, progress IntegrationProgress, pausedBy map[string]string, started map[string]bool) IntegrationStatus {
	var a *activities.Activities
	opts := withIO(ctx, 30*time.Second, 0)
	indexes := slices.Sorted(maps.Keys(started))
	futures := make([]workflow.Future, len(indexes))
	for i, index := range indexes {
		futures[i] = workflow.ExecuteActivity(opts, a.ReplicationStatus, in.index(index))
	}
	out := IntegrationStatus{IntegrationProgress: progress, PausedBy: maps.Clone(pausedBy), Indexes: make([]activities.IndexStatus, len(indexes))}
	for i, f := range futures {
		if err := f.Get(ctx, &out.Indexes[i]); err != nil {
			out.Indexes[i] = activities.IndexStatus{Index: indexes[i], Status: "UNKNOWN", Reason: failureReason(err)}
		}
	}
	return out
}
