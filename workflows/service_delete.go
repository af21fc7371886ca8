package workflows

// The delete request, and step 4: a follower stops replicating and leaves its leader, the
// backend removes what osccr runs.

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/rules"
)

// validateDelete is the delete update's validator: the rules (termination protection from
// serviceVersion 1), and the phase.
func (s *service) validateDelete() error {
	if s.version >= 1 && s.st.TerminationProtection && !s.deleting() {
		return TerminationProtected(s.st.Name)
	}
	return firstError(canDelete(s.st, s.deleting()), s.busy(phaseIdle))
}

// canDelete is the delete update's rule (rules.CanDelete).
func canDelete(st ServiceState, deleting bool) error { return rules.CanDelete(st.RuleView(), deleting) }

// onDelete is the delete update's handler: the main loop ends and step 4 runs.
func (s *service) onDelete(workflow.Context) (ServiceState, error) {
	s.enter(phaseDeleting)
	s.deleteRequested.SendAsync(true)
	return s.st, s.set(StateDeleting, "deletion requested")
}

// delete is step 4: a follower first stops replicating and leaves its leader's list; the
// backend removes what osccr runs. From serviceVersion 3 a deprovision that fails does not end the
// workflow (the service would drop out of every list with its nodes perhaps running): the
// service is FAILED with the reason and can be deleted again, or force-deleted; retry reports
// that, and ServiceWorkflow serves again.
func (s *service) delete(ctx workflow.Context) (retry bool, err error) {
	var a *activities.Activities
	note := ""
	if s.st.Follow != nil && s.st.Replication != nil {
		note = s.stopFollowing(ctx)
	}
	dctx := onMachine(withIO(ctx, 5*time.Minute, contract.LifecycleHeartbeatTimeout), s.st.ServiceSpec)
	if s.version < 3 {
		if err := workflow.ExecuteActivity(dctx, a.DeprovisionService, s.st.ServiceSpec).Get(ctx, nil); err != nil {
			return false, err
		}
	} else if err := s.deprovision(ctx, dctx); err != nil {
		if !s.force {
			s.phase = phaseIdle
			return true, s.set(StateFailed, fmt.Sprintf("deletion failed: %s; delete it again, or force it (service delete --force) to end the service even if its nodes cannot be stopped", failureReason(err)))
		}
		leftover := "its nodes"
		if len(s.st.Endpoints.Nodes) > 0 {
			var names []string
			for _, n := range s.st.Endpoints.Nodes {
				names = append(names, n.Name+" ("+n.HTTPURL+")")
			}
			leftover = strings.Join(names, ", ")
		}
		note = strings.TrimPrefix(note+fmt.Sprintf("; forced: %s may still run on machine %q (%s): stop them by hand", leftover, s.st.Machine, failureReason(err)), "; ")
	}
	s.st.Reason = "deleted"
	if note != "" {
		s.st.Reason += "; " + note
	}
	return false, workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

// forcedDeprovisionBound bounds the deprovision of a forced delete: a machine whose worker
// does not take it in this long is taken as gone.
const forcedDeprovisionBound = 30 * time.Second

// deprovision runs the backend's deprovision; a force-delete that arrives meanwhile cuts it
// short and tries once more, bounded by forcedDeprovisionBound.
func (s *service) deprovision(ctx, dctx workflow.Context) error {
	var a *activities.Activities
	forced := func() error {
		fctx := workflow.WithScheduleToStartTimeout(workflow.WithRetryPolicy(dctx, temporal.RetryPolicy{MaximumAttempts: 1}), forcedDeprovisionBound)
		fctx = workflow.WithStartToCloseTimeout(fctx, 2*time.Minute)
		return workflow.ExecuteActivity(fctx, a.DeprovisionService, s.st.ServiceSpec).Get(ctx, nil)
	}
	if s.force {
		return forced()
	}
	cctx, cancel := workflow.WithCancel(dctx)
	f := workflow.ExecuteActivity(cctx, a.DeprovisionService, s.st.ServiceSpec)
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(f, func(workflow.Future) {})
	sel.AddReceive(s.forceRequested, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
	sel.Select(ctx)
	if f.IsReady() {
		return f.Get(ctx, nil)
	}
	cancel()
	return forced()
}

// validateForceDelete is the force-delete update's validator: allowed while a delete is under
// way (that is what it is for), refused while the service leads followers.
func (s *service) validateForceDelete() error {
	if s.st.TerminationProtection {
		return TerminationProtected(s.st.Name)
	}
	if len(s.st.Followers) > 0 {
		return rules.CanDelete(s.st.RuleView(), false) // the leader-keeps-its-followers rule
	}
	if s.force {
		return fmt.Errorf("service %s is already being force-deleted", s.st.Name)
	}
	return s.busy(phaseDeleting)
}

// onForceDelete is the force-delete update's handler: a delete whose deprovision is bounded by
// forcedDeprovisionBound and whose failure does not keep the service (the nodes it could not
// stop are named in its last reason).
func (s *service) onForceDelete(workflow.Context) (ServiceState, error) {
	s.force = true
	if s.deleting() {
		s.forceRequested.Send(s.root, true)
		return s.st, nil
	}
	s.enter(phaseDeleting)
	s.deleteRequested.SendAsync(true)
	return s.st, s.set(StateDeleting, "forced deletion requested")
}

// integrationStopTimeout bounds how long deleting a follower waits for its integration to
// stop replicating: an integration that cannot reach the follower retries for a long time, and
// deleting the follower must not hang on it.
const integrationStopTimeout = 3 * time.Minute

// stopFollowing stops the integration, waits (at most integrationStopTimeout) for it to report
// STOPPED, and leaves the leader's list of followers. An integration that does not stop in
// time is cancelled, and one that is not running is not waited for: deleting goes on either
// way, and the returned note says what happened ("" when the integration stopped cleanly).
func (s *service) stopFollowing(ctx workflow.Context) string {
	id := IntegrationWorkflowID(s.st.Leader, s.st.Name)
	note := ""
	if err := workflow.SignalExternalWorkflow(ctx, id, "", SignalStopIntegration, nil).Get(ctx, nil); err != nil {
		note = fmt.Sprintf("integration %s was not running (%s): replication was not stopped", id, failureReason(err))
	} else {
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		timeout := workflow.NewTimer(timerCtx, integrationStopTimeout)
		timedOut := false
		for s.st.Replication.State != StateStopped && !timedOut {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(s.progress, func(c workflow.ReceiveChannel, _ bool) {
				var p IntegrationProgress
				c.Receive(ctx, &p)
				s.st.Replication = &p
			})
			sel.AddFuture(timeout, func(workflow.Future) { timedOut = true })
			sel.Select(ctx)
		}
		cancelTimer()
		if timedOut {
			err := workflow.RequestCancelExternalWorkflow(ctx, id, "").Get(ctx, nil)
			note = fmt.Sprintf("integration %s did not stop within %s (it was %s): cancelled", id, integrationStopTimeout, s.st.Replication.State)
			if err != nil {
				note += " (" + failureReason(err) + ")"
			}
			note += "; follower indexes it had started may still be replicating"
		}
	}
	if note != "" {
		workflow.GetLogger(ctx).Warn("deleting follower without a clean stop", "service", s.st.Name, "note", note)
		s.st.Replication.Reason = note
	}
	// A leader that is gone has no list to leave.
	_ = workflow.SignalExternalWorkflow(ctx, ServiceWorkflowID(s.st.Leader), "", SignalRemoveFollower, s.st.Name).Get(ctx, nil)
	return note
}
