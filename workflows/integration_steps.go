package workflows

// The integration's steps: each runs beside the main loop and returns a function that applies
// its outcome to the state when the loop receives it.

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
)

// acts names the activities for ExecuteActivity; it is never dereferenced.
var acts *activities.Activities

// setUp is step 1: connect, copy the templates, and plan the rebuild from the leader's
// indexes.
func (w *integration) setUp(ctx workflow.Context) func() {
	connect := contract.ConnectInput{Follower: w.in.Follower, Leader: w.in.Leader, LeaderAlias: w.in.LeaderAlias}
	if err := workflow.ExecuteActivity(waitOpts(w.waits), acts.ConnectRemote, connect).Get(ctx, nil); err != nil {
		return func() { w.fail(err) }
	}
	// Templates first: the plugin never copies them, and a follower that is promoted later must
	// create new indexes as its leader would.
	var templates contract.TemplateSync
	if err := workflow.ExecuteActivity(callOpts(ctx), acts.SyncTemplates, contract.SyncTemplatesInput{Leader: w.in.Leader, Follower: w.in.Follower}).Get(ctx, &templates); err != nil {
		return func() { w.fail(err) }
	}
	var plan contract.IndexPlan
	if err := workflow.ExecuteActivity(callOpts(ctx), acts.ListLeaderIndexes, w.in.Leader).Get(ctx, &plan); err != nil {
		return func() { w.fail(err) }
	}
	return func() {
		p := &w.st.Progress
		p.State, p.Bytes, p.Templates = StateRebuilding, plan.Bytes, templates.Managed
		w.st.TemplatesSynced = templates.Fingerprint
		if w.version >= 2 {
			w.st.ConfigDigests = templates.Digests
			w.noteConflicts(templates.Conflicts)
		}
		// Until the first watch answers, the plan is what the leader looks like.
		view := &contract.LeaderView{Indexes: map[string]string{}, Replicate: plan.Replicate, Excluded: plan.Excluded, Templates: templates.Fingerprint}
		for _, name := range plan.Replicate {
			view.Indexes[name] = plan.UUIDs[name]
		}
		w.st.Observed = &contract.Observation{Leader: view}
	}
}

// start starts replicating a leader index and waits until it is SYNCING and caught up.
func (w *integration) start(name, uuid string) func(workflow.Context) func() {
	return func(ctx workflow.Context) func() {
		_, err := followIndex(ctx, callOpts(ctx), waitOpts(w.waits), w.in.index(name), func() {
			// Recorded at once: from now on stopping must undo it, whatever happens next.
			w.st.Indexes[name] = FollowedIndex{UUID: uuid}
		})
		return func() {
			delete(w.starting, name)
			key := indexKey(name)
			if _, recorded := w.st.Indexes[name]; !recorded && temporal.IsCanceledError(err) {
				// Stopping cancelled the start: it may have reached the plugin, so stopping undoes it.
				w.st.Indexes[name] = FollowedIndex{UUID: uuid}
			}
			if err != nil {
				w.failed(key, name, ProblemStartFailed, err)
				if w.st.Progress.State == StateRebuilding {
					w.fail(err)
				}
				return
			}
			delete(w.st.Failures, key)
			if f, ok := w.st.Indexes[name]; ok {
				f.Syncing = true
				w.st.Indexes[name] = f
			}
		}
	}
}

// remove stops replicating a follower index whose leader index is gone (or was recreated) and
// deletes it; a recreated leader index is then replicated afresh.
func (w *integration) remove(name string) func(workflow.Context) func() {
	return func(ctx workflow.Context) func() {
		err := workflow.ExecuteActivity(callOpts(ctx), acts.RemoveFollowerIndex, w.in.index(name)).Get(ctx, nil)
		return func() {
			key := indexKey(name)
			if err != nil {
				w.failed(key, name, ProblemRemoveFailed, err)
				return
			}
			delete(w.st.Indexes, name)
			delete(w.st.Failures, key)
		}
	}
}

// pause pauses one follower index in the plugin.
func (w *integration) pause(name string) func(workflow.Context) func() {
	return func(ctx workflow.Context) func() {
		err := pauseIndex(ctx, callOpts(ctx), w.in.index(name))
		return func() {
			delete(w.pausing, name)
			key := indexKey(name)
			if err != nil {
				w.failed(key, name, ProblemPauseFailed, err)
				return
			}
			delete(w.st.Failures, key)
			if ix, ok := w.st.Indexes[name]; ok {
				ix.Paused = true
				w.st.Indexes[name] = ix
			}
		}
	}
}

// resume resumes one follower index (one the plugin never paused too: that is not an error)
// and waits until it is SYNCING and caught up.
func (w *integration) resume(name string) func(workflow.Context) func() {
	return func(ctx workflow.Context) func() {
		_, err := resumeIndex(ctx, callOpts(ctx), waitOpts(w.waits), w.in.index(name))
		return func() {
			key := indexKey(name)
			f, ok := w.st.Indexes[name]
			if !ok {
				return
			}
			if err != nil {
				w.failed(key, name, ProblemResumeFailed, err)
				// An index the plugin failed stays failed: it no longer holds the others back.
				if !contract.HasErrorType(err, contract.ErrTypeReplicationFailed) {
					return
				}
			} else {
				delete(w.st.Failures, key)
			}
			f.Held, f.Paused = false, false
			w.st.Indexes[name] = f
		}
	}
}

// syncTemplates makes the follower's templates match the leader's again.
func (w *integration) syncTemplates(ctx workflow.Context) func() {
	var sync contract.TemplateSync
	in := contract.SyncTemplatesInput{Leader: w.in.Leader, Follower: w.in.Follower, Managed: w.st.Progress.Templates}
	if w.version >= 2 {
		in.Digests = w.st.ConfigDigests
	}
	from := w.looks
	err := workflow.ExecuteActivity(callOpts(ctx), acts.SyncTemplates, in).Get(ctx, &sync)
	return func() {
		// Once per observation: the one this sync started from may show a change the sync
		// already made. An observation that arrived while it ran may show a newer change: that
		// one is synced at once.
		if w.looks == from || err != nil {
			w.deferred[templatesKey] = true
		}
		if err != nil {
			w.failed(templatesKey, "", ProblemTemplateSyncFailed, err)
			return
		}
		delete(w.st.Failures, templatesKey)
		w.st.TemplatesSynced, w.st.Progress.Templates = sync.Fingerprint, sync.Managed
		if w.version >= 2 {
			w.st.ConfigDigests = sync.Digests
			w.noteConflicts(sync.Conflicts)
		}
	}
}

// noteConflicts makes the objects the last configuration sync left alone a problem (one for
// all of them), or clears it. A conflict is not a failed step: nothing is retried until the
// leader's configuration changes again or an operator resolves it on the follower.
func (w *integration) noteConflicts(conflicts []contract.ConfigConflict) {
	if len(conflicts) == 0 {
		delete(w.st.Failures, configConflictKey)
		return
	}
	parts := make([]string, 0, len(conflicts))
	for _, c := range conflicts {
		parts = append(parts, c.Object+" ("+c.Reason+")")
	}
	w.st.Failures[configConflictKey] = Problem{Status: ProblemConfigConflict,
		Reason: "left alone on the follower, which a failover would lack as the leader has them: " + strings.Join(parts, ", ")}
}

// fail makes the integration FAILED with the reason; it then only waits to be stopped.
func (w *integration) fail(err error) {
	w.st.Progress.State, w.st.Progress.Reason = StateFailed, failureReason(err)
}

// reconnectTimeout bounds one reconnect: setting the seeds is one call, and the connection to a
// leader that answers is made within seconds.
const reconnectTimeout = 2 * time.Minute

// reconnect points the follower's remote connection (the plugin's cluster.remote.<alias>.seeds)
// at the leader's transport address the integration knows now, and waits until it connects
// (integrationVersion 3). The follower's replication then resumes by itself: the plugin retries
// its leader. A reconnect that fails is a RECONNECT_FAILED problem, tried again at the next
// observation.
func (w *integration) reconnect(ctx workflow.Context) func() {
	in := contract.ConnectInput{Follower: w.in.Follower, Leader: w.in.Leader, LeaderAlias: w.in.LeaderAlias}
	opts := workflow.WithActivityOptions(w.waits, workflow.ActivityOptions{
		StartToCloseTimeout: reconnectTimeout,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second, MaximumAttempts: 3},
	})
	err := workflow.ExecuteActivity(opts, acts.ConnectRemote, in).Get(ctx, nil)
	return func() {
		if err != nil {
			w.failed(reconnectKey, "", ProblemReconnectFailed, err)
			p := w.st.Failures[reconnectKey]
			p.Reason = fmt.Sprintf("leader %s moved to %s; the follower's remote connection %q could not be pointed at it: %s",
				in.Leader.Name, in.Leader.TransportAddress, in.LeaderAlias, p.Reason)
			w.st.Failures[reconnectKey] = p
			return
		}
		delete(w.st.Failures, reconnectKey)
		// A leader that moved again meanwhile is reconnected again.
		w.st.Reconnect = w.in.Leader.TransportAddress != in.Leader.TransportAddress
	}
}
