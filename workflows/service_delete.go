package workflows

// The delete request, and step 4: a follower stops replicating and leaves its leader, the
// backend removes what osccr runs.

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
)

// validateDelete is the delete update's validator: the rule, and the phase.
func (s *service) validateDelete() error {
	return firstError(canDelete(s.st, s.deleting()), s.busy(phaseIdle))
}

// canDelete is the delete update's validator: a rejected request is not written to history
// and changes nothing.
func canDelete(st ServiceState, deleting bool) error {
	switch {
	case deleting || st.State == StateDeleting:
		return fmt.Errorf("service %s is already being deleted", st.Name)
	case len(st.Followers) > 0:
		return fmt.Errorf("service %s is the leader of %v: delete or promote its followers first", st.Name, st.Followers)
	}
	return nil
}

// onDelete is the delete update's handler: the main loop ends and step 4 runs.
func (s *service) onDelete(workflow.Context) (ServiceState, error) {
	s.enter(phaseDeleting)
	s.deleteRequested.SendAsync(true)
	return s.st, s.set(StateDeleting, "deletion requested")
}

// delete is step 4: a follower first stops replicating and leaves its leader's list; the
// backend removes what osccr runs.
func (s *service) delete(ctx workflow.Context) error {
	var a *activities.Activities
	note := ""
	if s.st.Follow != nil && s.st.Replication != nil {
		note = s.stopFollowing(ctx)
	}
	dctx := onMachine(withIO(ctx, 5*time.Minute, activities.LifecycleHeartbeatTimeout), s.st.ServiceSpec)
	if err := workflow.ExecuteActivity(dctx, a.DeprovisionService, s.st.ServiceSpec).Get(ctx, nil); err != nil {
		return err
	}
	s.st.Reason = "deleted"
	if note != "" {
		s.st.Reason += "; " + note
	}
	return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
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
