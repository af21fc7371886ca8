package workflows

// The recycle-node request: one node restarts with replication paused on every follower it
// affects.

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/rules"
)

// validateRecycle is the recycle-node update's validator: the rule, and the phase.
func (s *service) validateRecycle(string) error {
	return firstError(canRecycle(s.st, s.deleting(), s.phase == phaseRecycling), s.busy(phaseIdle))
}

// canRecycle is the recycle-node update's rule (rules.CanRecycle).
func canRecycle(st ServiceState, deleting, recycling bool) error {
	return rules.CanRecycle(st.RuleView(), deleting, recycling)
}

// onRecycle is the recycle-node update's handler.
func (s *service) onRecycle(ctx workflow.Context, node string) (ServiceState, error) {
	s.enter(phaseRecycling)
	defer s.leave(phaseRecycling)
	return s.st, s.recycleNode(ctx, node)
}

// recycleNode restarts one node of the service. Replication is paused first on every follower
// the restart affects (the service itself if it is a follower, its followers if it leads any)
// and resumed once the service is healthy again; the leader keeps every operation meanwhile,
// so nothing is lost.
func (s *service) recycleNode(ctx workflow.Context, node string) error {
	var a *activities.Activities
	reason := fmt.Sprintf("node %q of %s is being recycled", node, s.st.Name)
	err := s.withReplicationPaused(ctx, reason, func() error {
		return workflow.ExecuteActivity(onMachine(withIO(ctx, 10*time.Minute, contract.LifecycleHeartbeatTimeout), s.st.ServiceSpec), a.RecycleServiceNode, contract.RecycleInput{Spec: s.st.ServiceSpec, Node: node}).Get(ctx, nil)
	})
	if err != nil {
		return errors.New(failureReason(err))
	}
	return nil
}

// withReplicationPaused runs restart (a node recycle, a plan change) with replication paused on
// every follower it affects (the service itself if it is a follower, its followers if it leads
// any), and resumes them after, whatever restart returned. A pause that cannot be delivered
// (the integration is gone, or Temporal refused the signal) refuses the restart, with
// the reason, after lifting the pauses already delivered: a node must not restart with
// replication running.
func (s *service) withReplicationPaused(ctx workflow.Context, reason string, restart func() error) error {
	var affected []string
	if s.st.Role == RoleFollower {
		affected = append(affected, IntegrationWorkflowID(s.st.Leader, s.st.Name))
	}
	for _, f := range s.st.Followers {
		affected = append(affected, IntegrationWorkflowID(s.st.Name, f))
	}
	pause := PauseRequest{Source: RecyclePauseSource(s.st.Name), Reason: reason}
	var applied workflow.ReceiveChannel
	if len(affected) > 0 {
		applied = workflow.GetSignalChannel(ctx, SignalPauseApplied)
		for applied.ReceiveAsync(nil) { // answers to an earlier request that stopped waiting
		}
		pause.ReplyTo = workflow.GetInfo(ctx).WorkflowExecution.ID
	}
	for i, id := range affected {
		err := workflow.SignalExternalWorkflow(ctx, id, "", SignalPauseIntegration, pause).Get(ctx, nil)
		if err != nil {
			for _, paused := range affected[:i] {
				_ = workflow.SignalExternalWorkflow(ctx, paused, "", SignalResumeIntegration, PauseRequest{Source: pause.Source}).Get(ctx, nil)
			}
			return fmt.Errorf("could not pause replication of %s (%s): nothing was restarted; try again once the integration is running, or delete the follower first",
				id, failureReason(err))
		}
	}
	if applied != nil {
		if note := awaitPauses(ctx, applied, affected, pause.Source); note != "" {
			workflow.GetLogger(ctx).Warn("restarting with a pause not confirmed", "service", s.st.Name, "note", note)
			reason += "; " + note
		}
	}
	s.st.Reason = reason
	err := restart()
	if s.st.Reason == reason {
		s.st.Reason = ""
	}
	for _, id := range affected {
		_ = workflow.SignalExternalWorkflow(ctx, id, "", SignalResumeIntegration, PauseRequest{Source: pause.Source}).Get(ctx, nil)
	}
	return err
}

// pauseConfirmTimeout bounds how long a restart waits for the integrations it paused to say
// replication has stopped: past it the restart goes on, and says so.
const pauseConfirmTimeout = 2 * time.Minute

// awaitPauses waits until every integration in affected answers that the pause of source took
// effect, or pauseConfirmTimeout passes; it returns "" or what did not answer.
func awaitPauses(ctx workflow.Context, applied workflow.ReceiveChannel, affected []string, source string) string {
	waiting := map[string]bool{}
	for _, id := range affected {
		waiting[id] = true
	}
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	timeout := workflow.NewTimer(tctx, pauseConfirmTimeout)
	for len(waiting) > 0 {
		timedOut := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(applied, func(c workflow.ReceiveChannel, _ bool) {
			var a PauseApplied
			c.Receive(ctx, &a)
			if a.Source == source {
				delete(waiting, a.Integration)
			}
		})
		sel.AddFuture(timeout, func(workflow.Future) { timedOut = true })
		sel.Select(ctx)
		if timedOut {
			return fmt.Sprintf("replication of %s did not confirm its pause within %s", strings.Join(slices.Sorted(maps.Keys(waiting)), ", "), pauseConfirmTimeout)
		}
	}
	return ""
}
