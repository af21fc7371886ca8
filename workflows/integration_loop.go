package workflows

// The integration's main loop: one run's state, the loop that takes signals, the watch's
// observations and the steps' outcomes, and continue-as-new.

import (
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/osccr/osccr/internal/contract"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Keys of the steps that run beside the watch; an index's steps are keyed by indexKey.
const (
	setupKey     = "setup"
	templatesKey = "templates"
	// configConflictKey keys the problem of the configuration objects a sync left alone.
	configConflictKey = "config-conflicts"
	// reconnectKey keys the step that points the follower's remote connection at a moved leader.
	reconnectKey = "reconnect"
)

// indexKey keys the steps of one index: index names cannot hold a '/'.
func indexKey(name string) string { return "index/" + name }

// integration is one run of IntegrationWorkflow.
type integration struct {
	in IntegrationInput
	st IntegrationState
	// version is the run's version of IntegrationWorkflow (versions.go).
	version workflow.Version
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
	// looks counts the observations applied (what a template sync started from).
	looks int
	// waits is cancelled when stopping: it ends the waits for SYNCING under way.
	waits       workflow.Context
	cancelWaits workflow.CancelFunc
	// steps is the context of the steps under way: stopping cancels them all at once rather than waiting for their retries to run out.
	steps       workflow.Context
	cancelSteps workflow.CancelFunc
	watch       workflow.Future
	cancelWatch workflow.CancelFunc
	watchRetry  workflow.Future
	watchErr    string
	reported    *IntegrationProgress
	// quiet is set once no handler runs, while the run waits to continue as new; quietNow says
	// it just was.
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
	if w.st.Replies == nil {
		w.st.Replies = map[string][]string{}
	}
	return w
}

// serve runs steps 2-4 until the stop signal. It returns a continue-as-new error when the
// history has grown long, and the cancellation when the workflow is cancelled.
func (w *integration) serve(ctx workflow.Context) error {
	stop := workflow.GetSignalChannel(ctx, SignalStopIntegration)
	pauses := workflow.GetSignalChannel(ctx, SignalPauseIntegration)
	resumes := workflow.GetSignalChannel(ctx, SignalResumeIntegration)
	var moves workflow.ReceiveChannel
	if w.version >= 3 {
		moves = workflow.GetSignalChannel(ctx, SignalClusterMoved)
	}
	for {
		w.reconcile(ctx)
		if w.version >= 3 && w.st.Reconnect && w.due(reconnectKey) {
			w.launch(ctx, reconnectKey, w.reconnect)
		}
		w.report(ctx)
		w.confirmPauses(ctx)
		pending := func() int {
			n := stop.Len() + pauses.Len() + resumes.Len()
			if moves != nil {
				n += moves.Len()
			}
			return n
		}
		if w.watch == nil && w.watchRetry == nil && w.watching() {
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
			} else {
				w.st.QueuedPauses[req.Source] = req.Reason
			}
			if req.ReplyTo != "" {
				w.st.Replies[req.Source] = append(w.st.Replies[req.Source], req.ReplyTo)
			}
		})
		sel.AddReceive(resumes, func(c workflow.ReceiveChannel, _ bool) {
			var req PauseRequest
			c.Receive(ctx, &req)
			delete(w.st.PausedBy, req.Source)
			delete(w.st.QueuedPauses, req.Source)
		})
		if moves != nil {
			sel.AddReceive(moves, func(c workflow.ReceiveChannel, _ bool) {
				var m ClusterMoved
				c.Receive(ctx, &m)
				w.onMoved(ctx, m)
			})
		}
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
		StartToCloseTimeout: contract.DefaultWatchMaxWait + time.Minute,
		HeartbeatTimeout:    contract.WatchHeartbeatTimeout,
		// A watch only fails when its worker dies or its cluster reference is bad: try again,
		// for as long as it takes.
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second},
	})
	w.cancelWatch = cancel
	w.watch = workflow.ExecuteActivity(wctx, acts.WatchLeader, contract.WatchInput{
		Leader: w.in.Leader, Follower: w.in.Follower, Known: w.st.Observed, Followed: slices.Sorted(maps.Keys(w.st.Indexes)),
	})
}

// onMoved takes up a side's new address (integrationVersion 3): the watch under way, which
// looks at the old one, is dropped and the next starts at the new one; a moved leader's
// transport address must also become the follower's remote seeds (the reconnect step).
func (w *integration) onMoved(ctx workflow.Context, m ClusterMoved) {
	ref := &w.in.Follower
	if m.Side == SideLeader {
		ref = &w.in.Leader
	}
	if m.Cluster.URL == "" || (ref.URL == m.Cluster.URL && ref.TransportAddress == m.Cluster.TransportAddress) {
		return
	}
	workflow.GetLogger(ctx).Info("a side of the integration moved", "side", m.Side, "from", m.From, "url", m.Cluster.URL, "transport", m.Cluster.TransportAddress)
	if m.Side == SideLeader && ref.TransportAddress != m.Cluster.TransportAddress && m.Cluster.TransportAddress != "" {
		w.st.Reconnect = true
		delete(w.deferred, reconnectKey) // a new address is tried at once
	}
	ref.URL = m.Cluster.URL
	if m.Cluster.TransportAddress != "" {
		ref.TransportAddress = m.Cluster.TransportAddress
	}
	if w.watch != nil {
		w.cancelWatch()
		w.watch = nil
	}
}

// observe records what the watch saw.
func (w *integration) observe(ctx workflow.Context, f workflow.Future) {
	w.watch = nil
	var obs contract.Observation
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
	w.looks++
	clear(w.deferred)
}

// due reports whether a step may start: it is not under way and did not just fail.
func (w *integration) due(key string) bool { return !w.busy[key] && !w.deferred[key] }

// launch runs a step beside the watch; its outcome is applied when the main loop receives it.
func (w *integration) launch(ctx workflow.Context, key string, step func(workflow.Context) func()) {
	w.busy[key] = true
	// The step runs in w.steps: stopping cancels it (Send does not heed the cancellation).
	workflow.Go(w.steps, func(ctx workflow.Context) {
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

// confirmPauses answers the workflows waiting for a pause to take effect: once replication has
// stopped (PAUSED), or at once while nothing replicates yet (the pause is queued until then).
// A pause lifted before it took effect is answered too, with the state it left.
func (w *integration) confirmPauses(ctx workflow.Context) {
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	for _, source := range slices.Sorted(maps.Keys(w.st.Replies)) {
		state := w.st.Progress.State
		_, held := w.st.PausedBy[source]
		_, queued := w.st.QueuedPauses[source]
		if held && state != StatePaused {
			continue // RUNNING until every index is paused
		}
		if queued && state == StateRebuilding {
			continue // indexes started by the rebuild replicate: answered once PAUSED
		}
		if !held && !queued && (state == StateRunning || state == StatePaused) {
			state = "RESUMED"
		}
		for _, to := range w.st.Replies[source] {
			// Best effort: a waiter that is gone waits no more.
			_ = workflow.SignalExternalWorkflow(ctx, to, "", SignalPauseApplied, PauseApplied{Integration: id, Source: source, State: state}).Get(ctx, nil)
		}
		delete(w.st.Replies, source)
	}
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
