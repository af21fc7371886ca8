package workflows

import (
	"github.com/osccr/osccr/internal/contract"
	"go.temporal.io/sdk/workflow"
)

// The one model of a follower index's replication, shared by the whole-cluster integration
// (one per leader index, beside its watch) and IndexReplicationWorkflow (one index on its own):
//
//	start ──► REBUILDING (restoring, then catching up) ──► SYNCING ◄──► PAUSED
//	                                                          │
//	                                                 stop ────┴──► an ordinary, writable index
//
// A follower index counts as SYNCING only once the plugin says SYNCING and it has caught up
// with its leader index (WaitSyncing). Each function here runs its calls in order and returns
// the first error; call is the context of the calls that make one OpenSearch request, wait
// that of the waits that heartbeat.

// followIndex starts replicating a leader index into its follower index; started runs as soon
// as the plugin took the start (from then on, stopping must undo it, whatever happens next).
// It then waits until the index is SYNCING and caught up.
func followIndex(ctx, call, wait workflow.Context, ix contract.IndexInput, started func()) (contract.IndexStatus, error) {
	if err := workflow.ExecuteActivity(call, acts.StartReplication, ix).Get(ctx, nil); err != nil {
		return contract.IndexStatus{}, err
	}
	started()
	return awaitSyncing(ctx, wait, ix)
}

// resumeIndex resumes a paused follower index (one the plugin never paused too: that is not an
// error) and waits until it is SYNCING and caught up again.
func resumeIndex(ctx, call, wait workflow.Context, ix contract.IndexInput) (contract.IndexStatus, error) {
	if err := workflow.ExecuteActivity(call, acts.ResumeReplication, ix).Get(ctx, nil); err != nil {
		return contract.IndexStatus{}, err
	}
	return awaitSyncing(ctx, wait, ix)
}

// pauseIndex pauses a follower index: the leader keeps every operation meanwhile.
func pauseIndex(ctx, call workflow.Context, ix contract.IndexInput) error {
	return workflow.ExecuteActivity(call, acts.PauseReplication, ix).Get(ctx, nil)
}

// stopIndex ends a follower index's replication for good: it becomes an ordinary, writable
// index (the plugin deletes one still restoring).
func stopIndex(ctx, call workflow.Context, ix contract.IndexInput) error {
	return stopIndexCall(call, ix).Get(ctx, nil)
}

// stopIndexCall is stopIndex for a caller that stops many indexes at once: it returns the
// call's future.
func stopIndexCall(call workflow.Context, ix contract.IndexInput) workflow.Future {
	return workflow.ExecuteActivity(call, acts.StopReplication, ix)
}

// indexStatusCall reads a follower index's replication status (the plugin's _status); it
// returns the call's future.
func indexStatusCall(call workflow.Context, ix contract.IndexInput) workflow.Future {
	return workflow.ExecuteActivity(call, acts.ReplicationStatus, ix)
}

// awaitSyncing waits until the follower index is SYNCING and caught up.
func awaitSyncing(ctx, wait workflow.Context, ix contract.IndexInput) (contract.IndexStatus, error) {
	var status contract.IndexStatus
	err := workflow.ExecuteActivity(wait, acts.WaitSyncing, ix).Get(ctx, &status)
	return status, err
}
