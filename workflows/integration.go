package workflows

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
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

// Sources of a pause. A recycle pauses with RecyclePauseSource(service). The integration
// itself pauses with PauseSourceHealth while the follower cluster is red or unreachable.
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
	// QueuedPauses are pauses received before the integration was RUNNING: they apply once it is.
	QueuedPauses map[string]string `json:"queued_pauses,omitempty"`
	// Indexes is the live replication status of every follower index osccr started.
	Indexes []activities.IndexStatus `json:"indexes"`
}

const (
	// rebuildConcurrency bounds how many indexes bootstrap at once: each is a restore from the
	// leader, and the plugin itself starts at most a few at a time.
	rebuildConcurrency = 4
	// defaultHistoryLimit is how many history events a run may have before the integration
	// continues as new (sooner when Temporal suggests it). A watch that sees nothing adds 6
	// events every activities.DefaultWatchMaxWait.
	defaultHistoryLimit = 4000
	// watchRetryDelay is how long the integration waits before watching again after a watch
	// failed for good (a bad cluster reference, say: the watch retries everything else).
	watchRetryDelay = 30 * time.Second
)

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
	// State is set when the workflow continues as new: what the previous run knew.
	State *IntegrationState `json:"state,omitempty"`
	// HistoryLimit is how many history events a run may grow to before it continues as new;
	// 0 means defaultHistoryLimit.
	HistoryLimit int `json:"history_limit,omitempty"`
}

// index is the replication of one leader index into the follower index of the same name.
func (in IntegrationInput) index(name string) activities.IndexInput {
	return activities.IndexInput{Follower: in.Follower, Leader: in.Leader, LeaderAlias: in.LeaderAlias, LeaderIndex: name, FollowerIndex: name}
}

// IntegrationProgress is what the integration tells the follower's service workflow.
type IntegrationProgress struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// Total is how many leader indexes the follower replicates (or is starting to); Syncing
	// how many of them are SYNCING.
	Total    int                    `json:"total"`
	Syncing  int                    `json:"syncing"`
	Bytes    int64                  `json:"bytes"`
	Excluded []activities.Exclusion `json:"excluded,omitempty"`
	// Stopped and LagOps are set with STOPPED: how many follower indexes were stopped, and how
	// many operations they were behind their leader indexes when they were stopped.
	Stopped int   `json:"stopped,omitempty"`
	LagOps  int64 `json:"lag_ops,omitempty"`
	// DeletedRestoring, set with STOPPED, are the follower indexes that were still restoring
	// from the leader when replication was stopped: the plugin's _stop deletes such an index.
	DeletedRestoring []string `json:"deleted_restoring,omitempty"`
	// Templates are the index and component templates osccr keeps on the follower.
	Templates []string `json:"templates,omitempty"`
	// Problems are what needs an operator's attention: follower indexes the plugin paused by
	// itself (a leader index closed, say) or failed, and steps osccr could not take.
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is one thing that needs an operator's attention.
type Problem struct {
	// Index is the follower index concerned; "" for the templates.
	Index string `json:"index,omitempty"`
	// Status is the plugin's (PAUSED, FAILED) or the step of osccr that failed.
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Statuses of the steps osccr takes, when they fail (Problem.Status).
const (
	ProblemStartFailed        = "START_FAILED"
	ProblemRemoveFailed       = "REMOVE_FAILED"
	ProblemPauseFailed        = "PAUSE_FAILED"
	ProblemResumeFailed       = "RESUME_FAILED"
	ProblemTemplateSyncFailed = "TEMPLATE_SYNC_FAILED"
	ProblemStopFailed         = "STOP_FAILED"
	ProblemDisconnectFailed   = "DISCONNECT_FAILED"
)

// IntegrationState is everything the integration knows; it is carried into the next run when
// the workflow continues as new.
type IntegrationState struct {
	Progress IntegrationProgress `json:"progress"`
	// Indexes are the follower indexes whose replication osccr started, by name.
	Indexes map[string]FollowedIndex `json:"indexes"`
	// PausedBy maps each source holding a pause to its reason.
	PausedBy map[string]string `json:"paused_by,omitempty"`
	// QueuedPauses are pauses received while the integration was not yet RUNNING, by source:
	// the plugin refuses to pause an index that is bootstrapping. They apply once it is RUNNING.
	QueuedPauses map[string]string `json:"queued_pauses,omitempty"`
	// Observed is the last observation of the leader and the follower.
	Observed *activities.Observation `json:"observed,omitempty"`
	// TemplatesSynced is the leader's templates fingerprint at the last template sync.
	TemplatesSynced string `json:"templates_synced,omitempty"`
	// Failures are steps that failed, by step key (see indexKey), for Problems.
	Failures map[string]Problem `json:"failures,omitempty"`
}

// FollowedIndex is one follower index whose replication osccr started.
type FollowedIndex struct {
	// UUID is the leader index's: a leader index recreated under the same name has another.
	UUID string `json:"uuid"`
	// Syncing is set once the index has reached SYNCING and caught up.
	Syncing bool `json:"syncing"`
	// Held is set while a pause holds the index: it is resumed, and waited for until it has
	// caught up, when the last pause is lifted.
	Held bool `json:"held,omitempty"`
	// Paused is set when osccr paused the index in the plugin (a follower that does not
	// answer cannot be told to).
	Paused bool `json:"paused,omitempty"`
}

// IntegrationWorkflow replicates the whole leader cluster into the follower, and keeps it so:
//
//  1. connect the follower to the leader (and make its plugin sync index metadata every 5 s),
//     copy the leader's index and component templates (the plugin does not), and list the
//     leader's indexes: user indexes replicate; system, hidden and closed ones are excluded
//     with the reason;
//  2. REBUILDING: start replicating each index, at most rebuildConcurrency at a time, each
//     until SYNCING and caught up; FAILED with the reason if one cannot start;
//  3. RUNNING once every index is. A heartbeating activity watches both clusters and returns
//     as soon as something changed; the workflow then reconciles, without waiting for the
//     slow steps (they run beside the watch): a new leader index is replicated, a deleted (or
//     recreated) one is removed from the follower (and replicated afresh), changed templates
//     are synced, indexes the plugin paused or failed by itself are reported as problems;
//  4. PAUSED while any pause is held: an operator's, a node recycle's, or the integration's
//     own while the follower cluster is red or unreachable. Every index is paused (when the
//     follower answers: the leader keeps every operation meanwhile); when the last pause is
//     lifted every index is resumed and waited for until caught up, then RUNNING again;
//  5. on the stop signal (the follower is deleted or promoted): stop every index it started, in
//     parallel (each becomes an ordinary writable index), remove the remote connection, report
//     STOPPED with the ops lag at that moment, and end.
//
// It continues as new when its history grows long, carrying its state. Every change of state
// is signalled to the follower's service workflow, which holds the state operators see.
func IntegrationWorkflow(ctx workflow.Context, in IntegrationInput) error {
	w := newIntegration(ctx, in)
	w.v = readIntegrationVersions(ctx)
	if err := workflow.SetUpdateHandler(ctx, UpdateIntegrationStatus, w.status); err != nil {
		return err
	}
	if in.State == nil {
		w.report(ctx)
		w.launch(ctx, setupKey, w.setUp) // step 1
	}
	if err := w.serve(ctx); err != nil { // steps 2-4, until the stop signal
		return err // continue-as-new, or cancelled
	}
	return w.stop(ctx) // step 5
}

// Keys of the steps that run beside the watch; an index's steps are keyed by indexKey.
const (
	setupKey     = "setup"
	templatesKey = "templates"
)

// indexKey keys the steps of one index: index names cannot hold a '/'.
func indexKey(name string) string { return "index/" + name }

// integration is one run of IntegrationWorkflow.
type integration struct {
	in IntegrationInput
	st IntegrationState
	v  integrationVersions
	// busy holds the keys of the steps under way; done receives each finished step, whose
	// function applies its outcome to the state.
	busy map[string]bool
	done workflow.Channel
	// starting holds the indexes being started (until SYNCING), at most rebuildConcurrency;
	// pausing those being paused (the integration says PAUSED once they are).
	starting, pausing map[string]bool
	// deferred holds the keys of steps that wait for the next observation: they failed on this
	// one (and are tried again on the next, not at once), or, for the templates, already ran.
	deferred map[string]bool
	// waits is cancelled when stopping: it ends the waits for SYNCING under way.
	waits       workflow.Context
	cancelWaits workflow.CancelFunc
	// steps is the context of the steps under way (with changeIntegrationBoundedStop): stopping
	// cancels them all at once rather than waiting for their retries to run out.
	steps       workflow.Context
	cancelSteps workflow.CancelFunc
	watch       workflow.Future
	cancelWatch workflow.CancelFunc
	watchRetry  workflow.Future
	watchErr    string
	reported    *IntegrationProgress
	// quiet is set once no handler runs, while the run waits to continue as new
	// (changeIntegrationDrainBeforeContinue); quietNow says it just was.
	quiet    workflow.Future
	quietNow bool
}

// stepDone is a finished step: apply records its outcome.
type stepDone struct {
	key   string
	apply func()
}

func newIntegration(ctx workflow.Context, in IntegrationInput) *integration {
	w := &integration{in: in, busy: map[string]bool{}, starting: map[string]bool{}, pausing: map[string]bool{}, deferred: map[string]bool{}, done: workflow.NewChannel(ctx)}
	w.waits, w.cancelWaits = workflow.WithCancel(ctx)
	w.steps, w.cancelSteps = workflow.WithCancel(ctx)
	if in.State != nil {
		w.st = *in.State
		reported := w.st.Progress
		w.reported = &reported
		w.in.State = nil
	} else {
		w.st.Progress = IntegrationProgress{State: StateConnecting}
	}
	if w.st.PausedBy == nil {
		w.st.PausedBy = map[string]string{}
	}
	if w.st.Indexes == nil {
		w.st.Indexes = map[string]FollowedIndex{}
	}
	if w.st.Failures == nil {
		w.st.Failures = map[string]Problem{}
	}
	if w.st.QueuedPauses == nil {
		w.st.QueuedPauses = map[string]string{}
	}
	return w
}

// acts names the activities for ExecuteActivity; it is never dereferenced.
var acts *activities.Activities

// callOpts are the options of an activity that makes one OpenSearch call; waitOpts those of
// one that waits (heartbeating) for a cluster to get somewhere. A call does not heartbeat, so
// its start-to-close timeout is how long a call lost with a crashed worker holds things up:
// short, since every such call is idempotent and simply runs again.
func callOpts(ctx workflow.Context) workflow.Context { return withIO(ctx, 20*time.Second, 0) }
func waitOpts(ctx workflow.Context) workflow.Context {
	return withIO(ctx, 30*time.Minute, 30*time.Second)
}

// setUp is step 1: connect, copy the templates, and plan the rebuild from the leader's
// indexes.
func (w *integration) setUp(ctx workflow.Context) func() {
	connect := activities.ConnectInput{Follower: w.in.Follower, Leader: w.in.Leader, LeaderAlias: w.in.LeaderAlias}
	if err := workflow.ExecuteActivity(waitOpts(w.waits), acts.ConnectRemote, connect).Get(ctx, nil); err != nil {
		return func() { w.fail(err) }
	}
	// Templates first: the plugin never copies them, and a follower that is promoted later must
	// create new indexes as its leader would.
	var templates activities.TemplateSync
	if err := workflow.ExecuteActivity(callOpts(ctx), acts.SyncTemplates, activities.SyncTemplatesInput{Leader: w.in.Leader, Follower: w.in.Follower}).Get(ctx, &templates); err != nil {
		return func() { w.fail(err) }
	}
	var plan activities.IndexPlan
	if err := workflow.ExecuteActivity(callOpts(ctx), acts.ListLeaderIndexes, w.in.Leader).Get(ctx, &plan); err != nil {
		return func() { w.fail(err) }
	}
	return func() {
		p := &w.st.Progress
		p.State, p.Bytes, p.Templates = StateRebuilding, plan.Bytes, templates.Managed
		w.st.TemplatesSynced = templates.Fingerprint
		// Until the first watch answers, the plan is what the leader looks like.
		view := &activities.LeaderView{Indexes: map[string]string{}, Replicate: plan.Replicate, Excluded: plan.Excluded, Templates: templates.Fingerprint}
		for _, name := range plan.Replicate {
			view.Indexes[name] = plan.UUIDs[name]
		}
		w.st.Observed = &activities.Observation{Leader: view}
	}
}

// serve runs steps 2-4 until the stop signal. It returns a continue-as-new error when the
// history has grown long, and the cancellation when the workflow is cancelled.
func (w *integration) serve(ctx workflow.Context) error {
	stop := workflow.GetSignalChannel(ctx, SignalStopIntegration)
	pauses := workflow.GetSignalChannel(ctx, SignalPauseIntegration)
	resumes := workflow.GetSignalChannel(ctx, SignalResumeIntegration)
	for {
		w.reconcile(ctx)
		w.report(ctx)
		pending := func() int { return stop.Len() + pauses.Len() + resumes.Len() }
		if w.watch == nil && w.watchRetry == nil && w.watching() && w.v.drainBeforeContinue {
			// Continuing as new waits for the handlers (beside this loop, which keeps taking
			// signals meanwhile: a stop must not wait on a status update), and only then checks
			// that no signal is pending: one that arrived meanwhile is handled first.
			quiet := w.quietNow
			w.quietNow = false
			switch {
			case !w.historyLong(ctx) || len(w.busy) > 0:
				w.startWatch(ctx)
			case quiet && pending() == 0 && workflow.AllHandlersFinished(ctx):
				next := w.in
				next.State = &w.st
				return workflow.NewContinueAsNewError(ctx, IntegrationWorkflow, next)
			case w.quiet == nil:
				f, settle := workflow.NewFuture(ctx)
				w.quiet = f
				workflow.Go(ctx, func(ctx workflow.Context) {
					settle.Set(nil, workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }))
				})
			}
		} else if w.watch == nil && w.watchRetry == nil && w.watching() {
			if w.historyLong(ctx) && len(w.busy) == 0 && pending() == 0 {
				if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
					return err
				}
				next := w.in
				next.State = &w.st
				return workflow.NewContinueAsNewError(ctx, IntegrationWorkflow, next)
			}
			w.startWatch(ctx)
		}

		stopped := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(stop, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); stopped = true })
		sel.AddReceive(pauses, func(c workflow.ReceiveChannel, _ bool) {
			var req PauseRequest
			c.Receive(ctx, &req)
			// Only a RUNNING integration pauses: the plugin refuses to pause a bootstrapping index.
			// Until then the pause waits in the queue (settle applies it).
			if s := w.st.Progress.State; s == StateRunning || s == StatePaused {
				w.st.PausedBy[req.Source] = req.Reason
			} else if w.v.queuePauses {
				w.st.QueuedPauses[req.Source] = req.Reason
			}
		})
		sel.AddReceive(resumes, func(c workflow.ReceiveChannel, _ bool) {
			var req PauseRequest
			c.Receive(ctx, &req)
			delete(w.st.PausedBy, req.Source)
			delete(w.st.QueuedPauses, req.Source)
		})
		sel.AddReceive(w.done, func(c workflow.ReceiveChannel, _ bool) {
			var d stepDone
			c.Receive(ctx, &d)
			delete(w.busy, d.key)
			d.apply()
		})
		if w.watch != nil {
			sel.AddFuture(w.watch, func(f workflow.Future) { w.observe(ctx, f) })
		}
		if w.watchRetry != nil {
			sel.AddFuture(w.watchRetry, func(workflow.Future) { w.watchRetry = nil })
		}
		sel.AddReceive(ctx.Done(), func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		if w.quiet != nil { // last: the signals first
			sel.AddFuture(w.quiet, func(workflow.Future) { w.quiet, w.quietNow = nil, true })
		}
		sel.Select(ctx)
		if stopped {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// watching reports whether the leader is watched: from the rebuild on, unless FAILED.
func (w *integration) watching() bool {
	switch w.st.Progress.State {
	case StateRebuilding, StateRunning, StatePaused:
		return true
	}
	return false
}

func (w *integration) historyLong(ctx workflow.Context) bool {
	limit := w.in.HistoryLimit
	if limit <= 0 {
		limit = defaultHistoryLimit
	}
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= limit
}

// startWatch runs the watch until it sees something differ from the last observation.
func (w *integration) startWatch(ctx workflow.Context) {
	wctx, cancel := workflow.WithCancel(ctx)
	wctx = workflow.WithActivityOptions(wctx, workflow.ActivityOptions{
		StartToCloseTimeout: activities.DefaultWatchMaxWait + time.Minute,
		HeartbeatTimeout:    activities.WatchHeartbeatTimeout,
		// A watch only fails when its worker dies or its cluster reference is bad: try again,
		// for as long as it takes.
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second},
	})
	w.cancelWatch = cancel
	w.watch = workflow.ExecuteActivity(wctx, acts.WatchLeader, activities.WatchInput{
		Leader: w.in.Leader, Follower: w.in.Follower, Known: w.st.Observed, Followed: slices.Sorted(maps.Keys(w.st.Indexes)),
	})
}

// observe records what the watch saw.
func (w *integration) observe(ctx workflow.Context, f workflow.Future) {
	w.watch = nil
	var obs activities.Observation
	if err := f.Get(ctx, &obs); err != nil {
		w.watchErr = "watching the leader: " + failureReason(err)
		w.watchRetry = workflow.NewTimer(w.waits, watchRetryDelay)
		return
	}
	w.watchErr = ""
	if obs.Leader == nil && w.st.Observed != nil {
		obs.Leader = w.st.Observed.Leader // the leader has not answered yet: keep the plan
	}
	w.st.Observed = &obs
	clear(w.deferred)
}

// reconcile moves the follower towards what was observed, starting the steps that are due and
// not under way, and settles the state.
func (w *integration) reconcile(ctx workflow.Context) {
	w.settle()
	obs := w.st.Observed
	if !w.watching() || obs == nil || obs.Leader == nil {
		return
	}
	if s := w.st.Progress.State; s == StateRunning || s == StatePaused {
		if obs.Follower.Unhealthy() {
			w.st.PausedBy[PauseSourceHealth] = fmt.Sprintf("follower cluster %s is %s", w.in.Follower.Name, obs.Follower.Status)
		} else {
			delete(w.st.PausedBy, PauseSourceHealth)
		}
	}
	paused := len(w.st.PausedBy) > 0
	for name, ix := range w.st.Indexes {
		if paused && !ix.Held {
			ix.Held = true
			w.st.Indexes[name] = ix
		}
	}
	// A follower that does not answer can be told nothing: everything waits for it.
	if !obs.Follower.Reachable() {
		w.settle()
		return
	}
	leader := obs.Leader
	if leader.Templates != w.st.TemplatesSynced && w.due(templatesKey) {
		w.launch(ctx, templatesKey, w.syncTemplates)
	}
	// Failures of indexes that are neither followed nor to be followed any more are moot.
	for key, f := range w.st.Failures {
		if _, followed := w.st.Indexes[f.Index]; f.Index != "" && !followed && !slices.Contains(leader.Replicate, f.Index) {
			delete(w.st.Failures, key)
		}
	}
	names := slices.Sorted(maps.Keys(w.st.Indexes))
	for _, name := range leader.Replicate {
		if _, ok := w.st.Indexes[name]; !ok {
			names = append(names, name)
		}
	}
	for _, name := range names {
		key := indexKey(name)
		if !w.due(key) {
			continue
		}
		ix, followed := w.st.Indexes[name]
		uuid, onLeader := leader.Indexes[name]
		switch {
		case followed && (!onLeader || uuid != ix.UUID):
			w.launch(ctx, key, w.remove(name))
		case followed && paused && !ix.Paused && ix.Syncing:
			w.pausing[name] = true
			w.launch(ctx, key, w.pause(name))
		case followed && !paused && ix.Held && (ix.Paused || ix.Syncing):
			w.launch(ctx, key, w.resume(name))
		case followed && !paused && ix.Held:
			ix.Held = false // never synced, never paused: nothing to resume
			w.st.Indexes[name] = ix
		case !followed && !paused && len(w.starting) < rebuildConcurrency && w.st.Progress.State != StateFailed:
			w.starting[name] = true
			w.launch(ctx, key, w.start(name, uuid))
		}
	}
	w.settle()
}

// due reports whether a step may start: it is not under way and did not just fail.
func (w *integration) due(key string) bool { return !w.busy[key] && !w.deferred[key] }

// launch runs a step beside the watch; its outcome is applied when the main loop receives it.
func (w *integration) launch(ctx workflow.Context, key string, step func(workflow.Context) func()) {
	w.busy[key] = true
	if w.v.boundedStop {
		ctx = w.steps // stopping cancels the step (Send does not heed the cancellation)
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		apply := step(ctx)
		w.done.Send(ctx, stepDone{key: key, apply: apply})
	})
}

// failed records a step's failure for the operator, and holds the step back until the next
// observation.
func (w *integration) failed(key, index, status string, err error) {
	w.st.Failures[key] = Problem{Index: index, Status: status, Reason: failureReason(err)}
	w.deferred[key] = true
}

// start starts replicating a leader index and waits until it is SYNCING and caught up.
func (w *integration) start(name, uuid string) func(workflow.Context) func() {
	return func(ctx workflow.Context) func() {
		ix := w.in.index(name)
		err := workflow.ExecuteActivity(callOpts(ctx), acts.StartReplication, ix).Get(ctx, nil)
		if err == nil {
			// Recorded at once: from now on stopping must undo it, whatever happens next.
			w.st.Indexes[name] = FollowedIndex{UUID: uuid}
			err = workflow.ExecuteActivity(waitOpts(w.waits), acts.WaitSyncing, ix).Get(ctx, nil)
		}
		return func() {
			delete(w.starting, name)
			key := indexKey(name)
			if _, recorded := w.st.Indexes[name]; w.v.boundedStop && !recorded && temporal.IsCanceledError(err) {
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
		err := workflow.ExecuteActivity(callOpts(ctx), acts.PauseReplication, w.in.index(name)).Get(ctx, nil)
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
		ix := w.in.index(name)
		err := workflow.ExecuteActivity(callOpts(ctx), acts.ResumeReplication, ix).Get(ctx, nil)
		if err == nil {
			err = workflow.ExecuteActivity(waitOpts(w.waits), acts.WaitSyncing, ix).Get(ctx, nil)
		}
		return func() {
			key := indexKey(name)
			f, ok := w.st.Indexes[name]
			if !ok {
				return
			}
			if err != nil {
				w.failed(key, name, ProblemResumeFailed, err)
				// An index the plugin failed stays failed: it no longer holds the others back.
				if !activities.HasErrorType(err, activities.ErrTypeReplicationFailed) {
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
	var sync activities.TemplateSync
	in := activities.SyncTemplatesInput{Leader: w.in.Leader, Follower: w.in.Follower, Managed: w.st.Progress.Templates}
	err := workflow.ExecuteActivity(callOpts(ctx), acts.SyncTemplates, in).Get(ctx, &sync)
	return func() {
		// Once per observation: one made while this sync ran may show a change this sync saw.
		w.deferred[templatesKey] = true
		if err != nil {
			w.failed(templatesKey, "", ProblemTemplateSyncFailed, err)
			return
		}
		delete(w.st.Failures, templatesKey)
		w.st.TemplatesSynced, w.st.Progress.Templates = sync.Fingerprint, sync.Managed
	}
}

// fail makes the integration FAILED with the reason; it then only waits to be stopped.
func (w *integration) fail(err error) {
	w.st.Progress.State, w.st.Progress.Reason = StateFailed, failureReason(err)
}

// settle derives the state and the counts from what is known.
func (w *integration) settle() {
	p := &w.st.Progress
	if obs := w.st.Observed; obs != nil && obs.Leader != nil {
		p.Excluded = obs.Leader.Excluded
		total := len(w.st.Indexes)
		for _, name := range obs.Leader.Replicate {
			if _, ok := w.st.Indexes[name]; !ok {
				total++
			}
		}
		p.Total = total
	}
	p.Syncing = 0
	for _, ix := range w.st.Indexes {
		if ix.Syncing {
			p.Syncing++
		}
	}
	p.Problems = w.problems()
	if p.State == StateRebuilding && w.rebuilt() {
		p.State, p.Reason = StateRunning, ""
	}
	if p.State != StateRunning && p.State != StatePaused {
		return
	}
	// Pauses queued before the integration was RUNNING apply now (only runs with
	// changeIntegrationQueuePauses queue any).
	maps.Copy(w.st.PausedBy, w.st.QueuedPauses)
	clear(w.st.QueuedPauses)
	held := false
	for _, ix := range w.st.Indexes {
		held = held || ix.Held
	}
	switch {
	case len(w.st.PausedBy) > 0 && len(w.pausing) > 0 && p.State == StateRunning:
		// Still RUNNING until the indexes are paused: PAUSED means replication has stopped.
	case len(w.st.PausedBy) > 0:
		p.State, p.Reason = StatePaused, pauseReason(w.st.PausedBy)
	case held:
		p.State, p.Reason = StatePaused, "resuming replication"
	default:
		p.State, p.Reason = StateRunning, w.problemSummary()
	}
}

// rebuilt reports whether every index the leader has to replicate is SYNCING.
func (w *integration) rebuilt() bool {
	obs := w.st.Observed
	if obs == nil || obs.Leader == nil {
		return false
	}
	for _, name := range obs.Leader.Replicate {
		if ix, ok := w.st.Indexes[name]; !ok || !ix.Syncing {
			return false
		}
	}
	return true
}

// pluginPaused and pluginBootstrapping are the plugin's statuses of a paused follower index
// and of one still restoring from its leader.
const (
	pluginPaused        = "PAUSED"
	pluginBootstrapping = "BOOTSTRAPPING"
)

// problems are the plugin's own halts (other than osccr's pauses) and osccr's failed steps.
func (w *integration) problems() []Problem {
	var out []Problem
	if obs := w.st.Observed; obs != nil {
		for _, name := range slices.Sorted(maps.Keys(obs.Halted)) {
			h := obs.Halted[name]
			if ix, ok := w.st.Indexes[name]; !ok || (h.Status == pluginPaused && ix.Paused) {
				continue
			}
			out = append(out, Problem{Index: name, Status: h.Status, Reason: h.Reason})
		}
		if obs.LeaderError != "" {
			out = append(out, Problem{Status: "LEADER_UNREACHABLE", Reason: obs.LeaderError})
		}
	}
	if w.watchErr != "" {
		out = append(out, Problem{Status: "WATCH_FAILED", Reason: w.watchErr})
	}
	for _, key := range slices.Sorted(maps.Keys(w.st.Failures)) {
		out = append(out, w.st.Failures[key])
	}
	return out
}

// problemSummary is the reason a RUNNING integration shows: its problems, if any.
func (w *integration) problemSummary() string {
	parts := make([]string, 0, len(w.st.Progress.Problems))
	for _, p := range w.st.Progress.Problems {
		s := p.Status
		if p.Index != "" {
			s = "index " + p.Index + " " + s
		}
		if p.Reason != "" {
			s += ": " + p.Reason
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// report signals the progress to the follower's service workflow when it changed.
func (w *integration) report(ctx workflow.Context) {
	p := w.st.Progress
	if w.reported != nil && reflect.DeepEqual(*w.reported, p) {
		return
	}
	w.reported = &p
	// The parent may be between runs (continue-as-new): the signal waits for the new run.
	_ = workflow.SignalExternalWorkflow(ctx, w.in.ParentID, "", SignalIntegrationProgress, p).Get(ctx, nil)
}

// stop is step 5: every step under way is finished (waits for SYNCING are abandoned), then
// every index osccr started is stopped, all at once, noting how far behind each was.
func (w *integration) stop(ctx workflow.Context) error {
	if w.v.boundedStop {
		return w.stopBounded(ctx)
	}
	if w.cancelWatch != nil {
		w.cancelWatch()
	}
	w.cancelWaits()
	w.awaitSteps(ctx)
	p := &w.st.Progress
	indexes := slices.Sorted(maps.Keys(w.st.Indexes))
	statuses := make([]workflow.Future, len(indexes))
	for i, index := range indexes {
		statuses[i] = workflow.ExecuteActivity(callOpts(ctx), acts.ReplicationStatus, w.in.index(index))
	}
	for _, f := range statuses {
		var st activities.IndexStatus
		if f.Get(ctx, &st) == nil { // best effort: the lag is a report, not a precondition
			p.LagOps += st.LagOps()
		}
	}
	stops := make([]workflow.Future, len(indexes))
	for i, index := range indexes {
		stops[i] = workflow.ExecuteActivity(callOpts(ctx), acts.StopReplication, w.in.index(index))
	}
	for _, f := range stops {
		if err := f.Get(ctx, nil); err != nil {
			return err
		}
	}
	p.Stopped = len(indexes)
	connect := activities.ConnectInput{Follower: w.in.Follower, Leader: w.in.Leader, LeaderAlias: w.in.LeaderAlias}
	if err := workflow.ExecuteActivity(callOpts(ctx), acts.DisconnectRemote, connect).Get(ctx, nil); err != nil {
		return err
	}
	p.State, p.Reason = StateStopped, "replication stopped and the remote connection removed"
	w.report(ctx)
	return nil
}

// awaitSteps waits until every step under way has finished, applying each one's result.
func (w *integration) awaitSteps(ctx workflow.Context) {
	for len(w.busy) > 0 {
		var d stepDone
		w.done.Receive(ctx, &d)
		delete(w.busy, d.key)
		d.apply()
	}
}

// pauseReason is every held pause's reason, in a stable order.
func pauseReason(pausedBy map[string]string) string {
	reasons := make([]string, 0, len(pausedBy))
	for _, source := range slices.Sorted(maps.Keys(pausedBy)) {
		reasons = append(reasons, pausedBy[source])
	}
	return strings.Join(reasons, "; ")
}

// status answers UpdateIntegrationStatus: it asks for the status of every follower index at
// once. An index whose status cannot be read says so rather than failing the whole answer.
func (w *integration) status(ctx workflow.Context) (IntegrationStatus, error) {
	opts := withIO(ctx, 30*time.Second, 0)
	indexes := slices.Sorted(maps.Keys(w.st.Indexes))
	futures := make([]workflow.Future, len(indexes))
	for i, index := range indexes {
		futures[i] = workflow.ExecuteActivity(opts, acts.ReplicationStatus, w.in.index(index))
	}
	out := IntegrationStatus{IntegrationProgress: w.st.Progress, PausedBy: maps.Clone(w.st.PausedBy), QueuedPauses: maps.Clone(w.st.QueuedPauses), Indexes: make([]activities.IndexStatus, len(indexes))}
	for i, f := range futures {
		if err := f.Get(ctx, &out.Indexes[i]); err != nil {
			out.Indexes[i] = activities.IndexStatus{Index: indexes[i], Status: "UNKNOWN", Reason: failureReason(err)}
		}
	}
	return out, nil
}

// Budgets of the calls of a bounded stop (changeIntegrationBoundedStop), retries included. With
// the leader down or black-holed, stopping still has to end: the follower is what it talks to,
// and together they stay well within promotionStopTimeout. The status is only for the report
// (the lag, the indexes still restoring), and the plugin answers it with a 5xx while the leader
// is unreachable: one short try. A stop may wait on the leader inside the plugin: an attempt
// gets stopAttemptTimeout.
const (
	leaderProbeBudget    = activities.LeaderProbeTimeout + 2*time.Second
	stopStatusBudget     = 5 * time.Second
	stopIndexBudget      = 100 * time.Second
	stopAttemptTimeout   = 45 * time.Second
	stopDisconnectBudget = 45 * time.Second
)

// budgetOpts are the options of a call that may retry until budget is spent.
func budgetOpts(ctx workflow.Context, budget time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    min(budget, stopAttemptTimeout),
		ScheduleToCloseTimeout: budget,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second},
	})
}

// stopBounded is step 5 with changeIntegrationBoundedStop:
//
//  1. every step under way is cancelled at once (index starts, waits for SYNCING, template
//     syncs, the watch): with the leader down they would only run out their retries;
//  2. the status of every index osccr started (or may have: a cancelled start) is read, once
//     and briefly, for the ops lag and to learn which were still restoring;
//  3. every such index is stopped, all at once, each within stopIndexBudget; the plugin's _stop
//     deletes a follower index still restoring, and those are named in the report;
//  4. the remote connection is removed, within stopDisconnectBudget;
//  5. STOPPED is reported whatever failed, with what failed as problems; the run then ends
//     with an error when something did.
func (w *integration) stopBounded(ctx workflow.Context) error {
	if w.cancelWatch != nil {
		w.cancelWatch()
	}
	w.cancelWaits()
	w.cancelSteps()
	w.awaitSteps(ctx)
	p := &w.st.Progress
	p.Problems, p.DeletedRestoring = nil, nil
	connect := activities.ConnectInput{Follower: w.in.Follower, Leader: w.in.Leader, LeaderAlias: w.in.LeaderAlias}
	var problems []Problem
	leaderDown := false
	if w.v.disconnectFirst {
		// The plugin's _stop removes the follower's retention leases on the leader and waits
		// for its answer; a leader that is down or black-holed never gives one. Without the
		// remote connection the plugin skips that step at once, and the leases expire on the
		// leader by themselves (index.soft_deletes.retention_lease.period, 12 h by default).
		var reachable bool
		_ = workflow.ExecuteActivity(budgetOpts(ctx, leaderProbeBudget), acts.LeaderReachable, w.in.Leader).Get(ctx, &reachable)
		if !reachable {
			leaderDown = true
			if err := workflow.ExecuteActivity(budgetOpts(ctx, stopDisconnectBudget), acts.DisconnectRemote, connect).Get(ctx, nil); err != nil {
				problems = append(problems, Problem{Status: ProblemDisconnectFailed, Reason: failureReason(err)})
			}
		}
	}
	indexes := slices.Sorted(maps.Keys(w.st.Indexes))
	statuses := make([]workflow.Future, len(indexes))
	for i, index := range indexes {
		statuses[i] = workflow.ExecuteActivity(budgetOpts(ctx, stopStatusBudget), acts.ReplicationStatus, w.in.index(index))
	}
	var restoring, toStop []string
	for i, f := range statuses {
		var st activities.IndexStatus
		err := f.Get(ctx, &st)
		switch {
		case err == nil:
			p.LagOps += st.LagOps()
			if st.Status == pluginBootstrapping {
				restoring = append(restoring, indexes[i])
			}
		case activities.HasErrorType(err, activities.ErrTypeNotFound):
			continue // never created (a start cancelled before it reached the plugin): nothing to stop
		case !w.st.Indexes[indexes[i]].Syncing:
			restoring = append(restoring, indexes[i]) // status unknown, and it never synced
		}
		toStop = append(toStop, indexes[i])
	}
	stops := make([]workflow.Future, len(toStop))
	for i, index := range toStop {
		stops[i] = workflow.ExecuteActivity(budgetOpts(ctx, stopIndexBudget), acts.StopReplication, w.in.index(index))
	}
	for i, f := range stops {
		if err := f.Get(ctx, nil); err != nil {
			problems = append(problems, Problem{Index: toStop[i], Status: ProblemStopFailed, Reason: failureReason(err)})
			restoring = slices.DeleteFunc(restoring, func(n string) bool { return n == toStop[i] })
			continue
		}
		p.Stopped++
	}
	if !leaderDown {
		if err := workflow.ExecuteActivity(budgetOpts(ctx, stopDisconnectBudget), acts.DisconnectRemote, connect).Get(ctx, nil); err != nil {
			problems = append(problems, Problem{Status: ProblemDisconnectFailed, Reason: failureReason(err)})
		}
	}
	p.State, p.Problems, p.DeletedRestoring = StateStopped, problems, restoring
	p.Reason = "replication stopped and the remote connection removed"
	if len(problems) > 0 {
		p.Reason = "replication stopped, except: " + w.problemSummary()
	}
	if leaderDown {
		p.Reason += fmt.Sprintf("; leader %s did not answer: disconnected first, its retention leases for this follower expire by themselves (12 h by default)", w.in.Leader.Name)
	}
	if len(restoring) > 0 {
		p.Reason += fmt.Sprintf("; %s were still restoring from the leader: the plugin's _stop deleted them", strings.Join(restoring, ", "))
	}
	w.report(ctx)
	if len(problems) > 0 {
		return temporal.NewNonRetryableApplicationError(p.Reason, ProblemStopFailed, nil)
	}
	return nil
}
