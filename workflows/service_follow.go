package workflows

// The follow request (osccr integration create): an existing, empty service becomes a
// follower.

import (
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/rules"
)

// UpdateFollow makes a standalone, RUNNING service the follower of a leader (osccr integration
// create). Its argument is a FollowRequest; it answers with the service's state once the
// integration workflow has started.
const UpdateFollow = "follow"

// FollowRequest asks an existing service to follow a leader.
type FollowRequest struct {
	Leader contract.ClusterRef `json:"leader"`
	// LeaderPlan is the leader's plan: the follower must be on the same one.
	LeaderPlan string `json:"leader_plan"`
}

// validateFollow is the follow update's validator: the phase, and the rule.
func (s *service) validateFollow(req FollowRequest) error {
	return firstError(s.busy(phaseIdle), canFollow(s.st, req))
}

// canFollow is the follow update's rule (rules.CanFollow): a rejected request is not written to
// history and changes nothing.
func canFollow(st ServiceState, req FollowRequest) error {
	return rules.CanFollow(st.RuleView(), rules.Leader{Name: req.Leader.Name, Plan: req.LeaderPlan, URL: req.Leader.URL, TransportAddress: req.Leader.TransportAddress})
}

// onFollow is the follow update's handler (service_follow.go).
func (s *service) onFollow(ctx workflow.Context, req FollowRequest) (ServiceState, error) {
	s.enter(phaseFollowing)
	defer s.leave(phaseFollowing)
	return s.st, s.followLeader(ctx, req)
}

// followLeader is the follow update's handler. A follower starts empty, the leader's indexes are
// created on it, so it lists the service's indexes first and refuses, changing nothing, while it
// holds user indexes. It then takes the path a created follower takes after PROVISIONING:
// register with the leader, start the integration.
//
// A follow whose integration cannot start (the
// leader is gone, the integration workflow cannot be started) is undone: the leader's list is
// left, and the service is the standalone service it was; the update fails with the reason.
func (s *service) followLeader(ctx workflow.Context, req FollowRequest) error {
	var a *activities.Activities
	self := s.st.ClusterRef()
	// The caller waits for the answer: a few quick tries, not the minutes of withIO.
	lctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 3},
	})
	var held contract.IndexPlan
	if err := workflow.ExecuteActivity(lctx, a.ListLeaderIndexes, self).Get(ctx, &held); err != nil {
		return fmt.Errorf("list the indexes of %s: %s", s.st.Name, failureReason(err))
	}
	if user := held.UserIndexes(); len(user) > 0 {
		return fmt.Errorf("service %s holds user indexes (%s): a follower must start without any, the leader's indexes are created on it; delete them from %s, or follow %s with a new service (osccr follower create %s --name NAME)",
			s.st.Name, strings.Join(user, ", "), s.st.Name, req.Leader.Name, req.Leader.Name)
	}
	// The service may have changed while its indexes were listed (say, it gained a follower).
	if err := canFollow(s.st, req); err != nil {
		return err
	}
	was := s.st
	s.st.Follow = &FollowSpec{Leader: req.Leader}
	s.st.Role, s.st.Leader = RoleFollower, req.Leader.Name
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchRole.ValueSet(RoleFollower), SearchLeader.ValueSet(s.st.Leader)); err != nil {
		return err
	}
	err := s.startIntegration(ctx)
	if err == nil {
		return nil
	}
	// Undo: leave the leader's list (a leader that is gone has none), be what it was.
	_ = workflow.SignalExternalWorkflow(ctx, ServiceWorkflowID(req.Leader.Name), "", SignalRemoveFollower, s.st.Name).Get(ctx, nil)
	s.st = was
	if serr := workflow.UpsertTypedSearchAttributes(ctx, SearchRole.ValueSet(s.st.Role), SearchLeader.ValueUnset()); serr != nil {
		return serr
	}
	if serr := s.set(was.State, was.Reason); serr != nil {
		return serr
	}
	return fmt.Errorf("%s cannot follow %s: %w; it is still a %s service", s.st.Name, req.Leader.Name, err, s.st.Role)
}

// startIntegration registers the follower with its leader and starts its integration workflow,
// failing with the reason when either cannot be done (startFollowing's checked form).
func (s *service) startIntegration(ctx workflow.Context) error {
	if err := workflow.SignalExternalWorkflow(ctx, ServiceWorkflowID(s.st.Leader), "", SignalAddFollower, s.st.Name).Get(ctx, nil); err != nil {
		return fmt.Errorf("leader %s is gone: %s", s.st.Leader, failureReason(err))
	}
	s.st.Replication = &IntegrationProgress{State: StateConnecting}
	if err := s.set(StateRebuilding, "connecting to leader "+s.st.Leader); err != nil {
		return err
	}
	child := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        IntegrationWorkflowID(s.st.Leader, s.st.Name),
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	in := IntegrationInput{Leader: s.st.Follow.Leader, Follower: s.st.ClusterRef(), LeaderAlias: s.st.Leader, ParentID: ServiceWorkflowID(s.st.Name)}
	if err := workflow.ExecuteChildWorkflow(child, IntegrationWorkflow, in).GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return fmt.Errorf("start integration %s: %s", IntegrationWorkflowID(s.st.Leader, s.st.Name), failureReason(err))
	}
	return nil
}
