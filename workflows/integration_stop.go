package workflows

// Step 5, stopping, and the status update.

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/osccr/osccr/internal/contract"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

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
	// Each index's status gets statusBudget, retries included: with the leader down or
	// black-holed the plugin answers late or with a 5xx, and the operator asking must get an
	// answer (that index UNKNOWN, with the reason) rather than a timeout.
	opts := budgetOpts(ctx, statusBudget)
	indexes := slices.Sorted(maps.Keys(w.st.Indexes))
	futures := fanOut(ctx, len(indexes), fanOutLimit, func(i int) workflow.Future {
		return indexStatusCall(opts, w.in.index(indexes[i]))
	})
	out := IntegrationStatus{IntegrationProgress: w.st.Progress, PausedBy: maps.Clone(w.st.PausedBy), QueuedPauses: maps.Clone(w.st.QueuedPauses), Indexes: make([]contract.IndexStatus, len(indexes))}
	for i, f := range futures {
		err := f.Get(ctx, &out.Indexes[i])
		if known, ok := contract.StatusFromError(err); ok && w.version >= 1 {
			out.Indexes[i] = known // the plugin's status unknown (the leader gone), the checkpoints read
			continue
		}
		if err != nil {
			out.Indexes[i] = contract.IndexStatus{Index: indexes[i], Status: contract.StatusUnknown, Reason: failureReason(err)}
		}
	}
	return out, nil
}

// Budgets of the calls of a stop, retries included. With
// the leader down or black-holed, stopping still has to end: the follower is what it talks to,
// and together they stay well within promotionStopTimeout. The status is only for the report
// (the lag, the indexes still restoring), and the plugin answers it with a 5xx while the leader
// is unreachable: one short try. A stop may wait on the leader inside the plugin: an attempt
// gets stopAttemptTimeout.
const (
	leaderProbeBudget    = contract.LeaderProbeTimeout + 2*time.Second
	stopStatusBudget     = 5 * time.Second
	stopIndexBudget      = 100 * time.Second
	stopAttemptTimeout   = 45 * time.Second
	stopDisconnectBudget = 45 * time.Second
	// statusBudget bounds one index's status in the status update.
	statusBudget = 8 * time.Second
)

// budgetOpts are the options of a call that may retry until budget is spent.
func budgetOpts(ctx workflow.Context, budget time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    min(budget, stopAttemptTimeout),
		ScheduleToCloseTimeout: budget,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second},
	})
}

// stop is step 5:
//
//  1. every step under way is cancelled at once (index starts, waits for SYNCING, template
//     syncs, the watch): with the leader down they would only run out their retries;
//  2. the status of every index osccr started (or may have: a cancelled start) is read, once
//     and briefly, for the ops lag (version 1: the loss, per index, from both clusters'
//     checkpoints or the leader as last seen) and to learn which were still restoring;
//  3. every such index is stopped, all at once, each within stopIndexBudget; the plugin's _stop
//     deletes a follower index still restoring, and those are named in the report;
//  4. the remote connection is removed, within stopDisconnectBudget;
//  5. STOPPED is reported whatever failed, with what failed as problems; the run then ends
//     with an error when something did.
func (w *integration) stop(ctx workflow.Context) error {
	if w.cancelWatch != nil {
		w.cancelWatch()
	}
	w.cancelWaits()
	w.cancelSteps()
	w.awaitSteps(ctx)
	p := &w.st.Progress
	p.Problems, p.DeletedRestoring = nil, nil
	stopping := workflow.Now(ctx)
	connect := contract.ConnectInput{Follower: w.in.Follower, Leader: w.in.Leader, LeaderAlias: w.in.LeaderAlias}
	var problems []Problem
	// The plugin's _stop removes the follower's retention leases on the leader and waits for
	// its answer; a leader that is down or black-holed never gives one. Without the remote
	// connection the plugin skips that step at once, and the leases expire on the leader by
	// themselves (index.soft_deletes.retention_lease.period, 12 h by default).
	var reachable bool
	_ = workflow.ExecuteActivity(budgetOpts(ctx, leaderProbeBudget), acts.LeaderReachable, w.in.Leader).Get(ctx, &reachable)
	leaderDown := !reachable
	if leaderDown {
		if err := workflow.ExecuteActivity(budgetOpts(ctx, stopDisconnectBudget), acts.DisconnectRemote, connect).Get(ctx, nil); err != nil {
			problems = append(problems, Problem{Status: ProblemDisconnectFailed, Reason: failureReason(err)})
		}
	}
	indexes := slices.Sorted(maps.Keys(w.st.Indexes))
	statuses := fanOut(ctx, len(indexes), fanOutLimit, func(i int) workflow.Future {
		return indexStatusCall(budgetOpts(ctx, stopStatusBudget), w.in.index(indexes[i]))
	})
	var restoring, toStop []string
	read := map[string]contract.IndexStatus{}
	for i, f := range statuses {
		var st contract.IndexStatus
		err := f.Get(ctx, &st)
		if known, ok := contract.StatusFromError(err); ok && w.version >= 1 {
			read[indexes[i]] = known // the plugin's status unknown (the leader gone), the checkpoints read
			p.LagOps += known.LagOps()
		}
		switch {
		case err == nil:
			p.LagOps += st.LagOps()
			read[indexes[i]] = st
			if st.Status == pluginBootstrapping {
				restoring = append(restoring, indexes[i])
			}
		case contract.HasErrorType(err, contract.ErrTypeNotFound):
			continue // never created (a start cancelled before it reached the plugin): nothing to stop
		case !w.st.Indexes[indexes[i]].Syncing:
			restoring = append(restoring, indexes[i]) // status unknown, and it never synced
		}
		toStop = append(toStop, indexes[i])
	}
	if w.version >= 1 && len(read) > 0 {
		p.Loss = LossOf(read, stopping)
	}
	stops := fanOut(ctx, len(toStop), fanOutLimit, func(i int) workflow.Future {
		return stopIndexCall(budgetOpts(ctx, stopIndexBudget), w.in.index(toStop[i]))
	})
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

// fanOutLimit is how many calls, one per index, the status update and the stop keep under way
// at once: enough to stop a hundred indexes in a few seconds, few enough that a follower with
// thousands does not get thousands of requests at once.
const fanOutLimit = 16

// fanOut starts call(i) for every i below n, keeping at most limit under way: before starting
// call(i) it waits for call(i-limit). It returns the futures in
// order, the last ones possibly still running.
func fanOut(ctx workflow.Context, n, limit int, call func(i int) workflow.Future) []workflow.Future {
	futures := make([]workflow.Future, n)
	for i := range n {
		if i >= limit {
			_ = futures[i-limit].Get(ctx, nil) // its outcome is read by the caller
		}
		futures[i] = call(i)
	}
	return futures
}
