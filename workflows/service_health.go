package workflows

// Health and repair (serviceVersion 3): a service is RUNNING only while its cluster answers.
//
//  1. While the service has endpoints and is not being deleted, one health watch runs on the
//     shared queue (activities.WatchServiceHealth): a heartbeating activity that returns only
//     when the cluster's class changes (healthy, red, unreachable) or after its maximum wait.
//  2. Down or red: the service leaves RUNNING (or its replication state) for UNHEALTHY with the
//     watch's reason; a local service's dead nodes are started again by the worker of their
//     machine (activities.RepairService, on the machine's queue, bounded by MachineQueueBound),
//     and the service is REPAIRING meanwhile. A repair that fails is tried again after
//     repairRetryAfter while the cluster stays down.
//  3. Healthy again: the service takes the state it would have had, RUNNING or, for a follower,
//     its replication's state (reports that arrived meanwhile are kept, not shown).
//
// A node restarted on purpose (recycle, plan change) or a service being promoted or deleted is
// not repaired: the watch's report is only recorded.

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
)

const (
	// healthPauseAfter is how long a health watch that failed (not the cluster: the watch itself,
	// say a bad reference) waits before it is started again.
	healthPauseAfter = time.Minute
	// repairRetryAfter is how long a failed repair waits before the next, while the cluster
	// stays down.
	repairRetryAfter = time.Minute
	// repairTimeout bounds one repair once the machine's worker took it: its own bounded
	// retries (provision.Local.Repair) fit in it.
	repairTimeout = 10 * time.Minute
	// busyPause is how long the health watch rests after a report it did not act on (a node
	// restarted on purpose).
	busyPause = 10 * time.Second
)

// addHealth starts the health watch when none runs, and adds what health and repair wait on to
// the main loop's selector.
func (s *service) addHealth(ctx workflow.Context, sel workflow.Selector) {
	if ctx.Err() != nil { // the workflow is cancelled: nothing new starts
		return
	}
	if s.health == nil && s.healthPause == nil && s.watchable() {
		known := contract.ClusterHealth{}
		if s.st.Health != nil {
			known = *s.st.Health
		}
		var a *activities.Activities
		wctx := ctx
		if s.version >= 5 {
			wctx, s.cancelHealth = workflow.WithCancel(ctx)
		}
		wctx = workflow.WithActivityOptions(wctx, workflow.ActivityOptions{
			StartToCloseTimeout: contract.DefaultHealthMaxWait + time.Minute,
			HeartbeatTimeout:    contract.HealthHeartbeatTimeout,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
		})
		s.health = workflow.ExecuteActivity(wctx, a.WatchServiceHealth, contract.HealthInput{Cluster: s.st.ClusterRef(), Known: known})
	}
	if s.health != nil {
		sel.AddFuture(s.health, func(f workflow.Future) { s.onHealth(ctx, f) })
	}
	if s.healthPause != nil {
		sel.AddFuture(s.healthPause, func(workflow.Future) { s.healthPause = nil })
	}
	if s.repair != nil {
		sel.AddFuture(s.repair, func(f workflow.Future) { s.onRepair(ctx, f) })
	}
	if s.repairRetry != nil {
		sel.AddFuture(s.repairRetry, func(workflow.Future) {
			s.repairRetry = nil
			if s.down() {
				s.startRepair(ctx)
			}
		})
	}
}

// watchable: the service has a cluster to watch.
func (s *service) watchable() bool {
	return !s.deleting() && s.st.Endpoints.HTTPURL != "" && s.st.State != StateProvisioning
}

// down: the service is UNHEALTHY or REPAIRING because its cluster is.
func (s *service) down() bool {
	return s.st.State == StateUnhealthy || s.st.State == StateRepairing
}

// showsUp: the state says the cluster serves, so it gives way to UNHEALTHY/REPAIRING.
// (RUNNING, PAUSED, REBUILDING.)
func (s *service) showsUp() bool {
	return slices.Contains([]string{StateRunning, StatePaused, StateRebuilding}, s.st.State)
}

// onHealth takes the health watch's report.
func (s *service) onHealth(ctx workflow.Context, f workflow.Future) {
	s.health = nil
	var h contract.ClusterHealth
	if err := f.Get(ctx, &h); err != nil {
		workflow.GetLogger(ctx).Warn("health watch failed", "service", s.st.Name, "error", err)
		s.healthPause = workflow.NewTimer(ctx, healthPauseAfter)
		return
	}
	if s.deleting() || s.phase == phaseRecycling || s.phase == phaseReplanning || s.phase == phasePromoting {
		// A restart on purpose, or the service is going: not acted on, not taken as known, so
		// that a node that stays down after it is reported again.
		s.healthPause = workflow.NewTimer(ctx, busyPause)
		return
	}
	s.st.Health = &h
	switch {
	case h.Unhealthy() && (s.showsUp() || s.down()):
		reason := fmt.Sprintf("%s (seen %s)", h.Reason, workflow.Now(ctx).UTC().Format(time.RFC3339))
		if s.local() {
			if s.repair == nil && s.repairRetry == nil {
				s.startRepair(ctx)
			}
			return
		}
		_ = s.set(StateUnhealthy, reason+"; osccr does not run this cluster's nodes: it is RUNNING again once it answers green or yellow")
	case !h.Unhealthy() && s.down():
		s.backUp(ctx)
	}
}

// local: osccr runs the service's nodes, so it can start them again.
func (s *service) local() bool { return s.st.Backend == contract.BackendLocal }

// startRepair asks the machine's worker to start the service's dead nodes again.
func (s *service) startRepair(ctx workflow.Context) {
	var a *activities.Activities
	rctx := onMachine(workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: repairTimeout,
		HeartbeatTimeout:    contract.LifecycleHeartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 3},
	}), s.st.ServiceSpec)
	s.repair = workflow.ExecuteActivity(rctx, a.RepairService, s.st.ServiceSpec)
	reason := "the cluster does not answer"
	if s.st.Health != nil {
		reason = s.st.Health.Reason
	}
	_ = s.set(StateRepairing, fmt.Sprintf("%s; osccr is starting its nodes again%s", reason, s.onMachineWords()))
}

func (s *service) onMachineWords() string {
	if s.st.Machine == "" {
		return ""
	}
	return " on machine " + s.st.Machine
}

// onRepair takes the repair's result. The service is RUNNING again only once the health watch
// sees its cluster answer, not when the repair says it restarted something.
func (s *service) onRepair(ctx workflow.Context, f workflow.Future) {
	s.repair = nil
	var rep contract.RepairReport
	err := f.Get(ctx, &rep)
	rec := &RepairRecord{At: workflow.Now(ctx), Restarted: rep.Restarted, Moved: rep.Moved}
	s.st.Repair = rec
	if err != nil {
		rec.Error = failureReason(err)
		s.repairRetry = workflow.NewTimer(ctx, repairRetryAfter)
		if s.down() {
			_ = s.set(StateUnhealthy, fmt.Sprintf("the repair of its nodes%s failed: %s; tried again in %s while it stays down", s.onMachineWords(), rec.Error, repairRetryAfter))
		}
		return
	}
	was := s.st.ClusterRef()
	if len(rep.Endpoints.Nodes) > 0 {
		if rep.Endpoints.Auth == (contract.ClusterAuth{}) {
			rep.Endpoints.Auth = s.st.Endpoints.Auth
		}
		s.st.Endpoints = rep.Endpoints
	}
	if len(rep.Moved) > 0 {
		workflow.GetLogger(ctx).Warn("repaired nodes answer on new ports", "service", s.st.Name, "moved", rep.Moved)
	}
	if now := s.st.ClusterRef(); s.version >= 5 && (now.URL != was.URL || now.TransportAddress != was.TransportAddress) {
		s.restartHealth()
		s.tellMoved(ctx, was)
	}
}

// restartHealth drops the health watch under way (it looks at an address the cluster left):
// the main loop starts the next one at the service's endpoints, knowing what the last report
// said, so a repaired cluster is seen answering at its first look.
func (s *service) restartHealth() {
	if s.health != nil {
		s.cancelHealth()
		s.health = nil
	}
}

// tellMoved tells the integrations that know the service's address where it answers now: each
// follower's as its leader (it reconnects the follower's remote seeds), its own as their
// follower. Best effort: an integration that is gone has nothing to update.
func (s *service) tellMoved(ctx workflow.Context, was contract.ClusterRef) {
	now := s.st.ClusterRef()
	moved := ClusterMoved{Cluster: contract.ClusterRef{Name: now.Name, URL: now.URL, TransportAddress: now.TransportAddress}, From: was.URL + " " + was.TransportAddress}
	type target struct{ id, side string }
	var targets []target
	for _, f := range s.st.Followers {
		targets = append(targets, target{IntegrationWorkflowID(s.st.Name, f), SideLeader})
	}
	if s.st.Role == RoleFollower && s.st.Leader != "" {
		targets = append(targets, target{IntegrationWorkflowID(s.st.Leader, s.st.Name), SideFollower})
	}
	for _, t := range targets {
		m := moved
		m.Side = t.side
		if err := workflow.SignalExternalWorkflow(ctx, t.id, "", SignalClusterMoved, m).Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("could not tell an integration that the service moved", "service", s.st.Name, "integration", t.id, "error", err)
		}
	}
}

// backUp gives a service whose cluster answers again the state it would have had.
func (s *service) backUp(ctx workflow.Context) {
	if r := s.st.Replication; s.st.Role == RoleFollower && r != nil && s.st.Promotion == nil &&
		slices.Contains([]string{StateConnecting, StateRebuilding, StateRunning, StatePaused, StateFailed}, r.State) {
		s.st.State = StateRebuilding // not down, so that the report is shown
		s.onIntegrationProgress(ctx, *r, false)
		return
	}
	_ = s.set(StateRunning, "")
}
