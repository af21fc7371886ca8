package workflows

// Step 1, PROVISIONING: the backend makes the cluster exist and answer; a follower then
// registers with its leader and starts its integration.

import (
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
)

// provision is step 1: the backend makes the cluster exist and answer; a follower then starts
// following. A delete while provisioning (say, an unreachable cluster being retried) cancels it.
func (s *service) provision(ctx workflow.Context) error {
	var a *activities.Activities
	pctx, cancelProvision := workflow.WithCancel(ctx)
	var err error
	if s.st.Backend == contract.BackendLocal && s.st.Machine == "" {
		// Placed first, so that every retry of the provision (and everything after it) reaches
		// the same machine: a retry elsewhere would leave the first machine's nodes orphaned.
		err = s.untilDeleted(ctx, workflow.ExecuteActivity(withIO(pctx, time.Minute, 0), a.PlaceService, s.st.ServiceSpec), cancelProvision, &s.st.Machine)
	}
	if err == nil && !s.deleting() {
		pctx := onMachine(withIO(pctx, 15*time.Minute, contract.LifecycleHeartbeatTimeout), s.st.ServiceSpec)
		err = s.untilDeleted(ctx, workflow.ExecuteActivity(pctx, a.ProvisionService, s.st.ServiceSpec), cancelProvision, &s.st.Endpoints)
	}
	switch {
	case s.deleting(): // on to step 4
		return nil
	case err != nil:
		return s.set(StateFailed, failureReason(err))
	case s.st.Follow == nil:
		s.st.RunningAt = workflow.Now(ctx)
		return s.set(StateRunning, "")
	}
	return s.startFollowing(ctx)
}

// untilDeleted waits for a provisioning step, cancelling it when a delete is accepted meanwhile,
// and gets its result into out.
func (s *service) untilDeleted(ctx workflow.Context, f workflow.Future, cancel workflow.CancelFunc, out any) error {
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(f, func(workflow.Future) {})
	sel.AddReceive(s.deleteRequested, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); cancel() })
	sel.Select(ctx)
	return f.Get(ctx, out)
}

// startFollowing registers a freshly provisioned follower with its leader and starts its
// integration workflow, which outlives this run (continue-as-new) and reports by signal.
func (s *service) startFollowing(ctx workflow.Context) error {
	if err := workflow.SignalExternalWorkflow(ctx, ServiceWorkflowID(s.st.Leader), "", SignalAddFollower, s.st.Name).Get(ctx, nil); err != nil {
		return s.set(StateFailed, fmt.Sprintf("leader %s is gone: %s", s.st.Leader, failureReason(err)))
	}
	s.st.Replication = &IntegrationProgress{State: StateConnecting}
	if err := s.set(StateRebuilding, "connecting to leader "+s.st.Leader); err != nil {
		return err
	}
	child := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        IntegrationWorkflowID(s.st.Leader, s.st.Name),
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	in := IntegrationInput{
		Leader:      s.st.Follow.Leader,
		Follower:    s.st.ClusterRef(),
		LeaderAlias: s.st.Leader,
		ParentID:    ServiceWorkflowID(s.st.Name),
	}
	return workflow.ExecuteChildWorkflow(child, IntegrationWorkflow, in).GetChildWorkflowExecution().Get(ctx, nil)
}
