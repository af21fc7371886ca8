package workflows

import (
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/plan"
)

// UpdateFollow makes a standalone, RUNNING service the follower of a leader (osccr integration
// create). Its argument is a FollowRequest; it answers with the service's state once the
// integration workflow has started.
const UpdateFollow = "follow"

// FollowRequest asks an existing service to follow a leader.
type FollowRequest struct {
	Leader activities.ClusterRef `json:"leader"`
	// LeaderPlan is the leader's plan: the follower must be on the same one.
	LeaderPlan string `json:"leader_plan"`
}

// canFollow is the follow update's validator: the rules that need no I/O. A rejected request is
// not written to history and changes nothing.
func canFollow(st ServiceState, req FollowRequest) error {
	leader := req.Leader.Name
	switch {
	case st.Promotion != nil:
		return fmt.Errorf("service %s was promoted from a follower of %s on %s: a promoted service never follows again; follow %s with a new service (osccr follower create %s --name NAME)",
			st.Name, st.Promotion.FormerLeader, st.Promotion.PromotedAt.Format(time.RFC3339), leader, leader)
	case st.Role == RoleFollower:
		return fmt.Errorf("service %s already follows %s: a service follows one leader; promote or delete it first", st.Name, st.Leader)
	case len(st.Followers) > 0:
		return fmt.Errorf("service %s is the leader of %s: a leader cannot also be a follower; delete or promote its followers first", st.Name, strings.Join(st.Followers, ", "))
	case leader == st.Name:
		return fmt.Errorf("service %s cannot follow itself", st.Name)
	case req.Leader.URL == "" || req.Leader.TransportAddress == "":
		return fmt.Errorf("leader %s has no endpoints yet (URL %q, transport %q): it must be RUNNING", leader, req.Leader.URL, req.Leader.TransportAddress)
	case st.State != StateRunning:
		return fmt.Errorf("service %s is %s; it must be RUNNING to become a follower", st.Name, st.State)
	}
	catalog := plan.Default()
	leaderPlan, err := catalog.Lookup(req.LeaderPlan)
	if err != nil {
		return fmt.Errorf("leader %s: %w", leader, err)
	}
	ownPlan, err := catalog.Lookup(st.Plan)
	if err != nil {
		return fmt.Errorf("service %s: %w", st.Name, err)
	}
	if err := plan.CheckFollowerPlan(leaderPlan, ownPlan); err != nil {
		return fmt.Errorf("%w; change the plan of %s first (osccr service update %s --plan %s)", err, st.Name, st.Name, leaderPlan.Name)
	}
	return nil
}

// followLeader is the follow update's handler. A follower starts empty, the leader's indexes are
// created on it, so it lists the service's indexes first and refuses, changing nothing, while it
// holds user indexes. It then takes the path a created follower takes after PROVISIONING:
// register with the leader, start the integration.
//
// A follow whose integration cannot start (the
// leader is gone, the integration workflow cannot be started) is undone: the leader's list is
// left, and the service is the standalone service it was; the update fails with the reason.
func followLeader(ctx workflow.Context, st *ServiceState, req FollowRequest, set func(string, string) error) error {
	var a *activities.Activities
	self := st.ClusterRef()
	// The caller waits for the answer: a few quick tries, not the minutes of withIO.
	lctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 3},
	})
	var held activities.IndexPlan
	if err := workflow.ExecuteActivity(lctx, a.ListLeaderIndexes, self).Get(ctx, &held); err != nil {
		return fmt.Errorf("list the indexes of %s: %s", st.Name, failureReason(err))
	}
	if user := held.UserIndexes(); len(user) > 0 {
		return fmt.Errorf("service %s holds user indexes (%s): a follower must start without any, the leader's indexes are created on it; delete them from %s, or follow %s with a new service (osccr follower create %s --name NAME)",
			st.Name, strings.Join(user, ", "), st.Name, req.Leader.Name, req.Leader.Name)
	}
	// The service may have changed while its indexes were listed (say, it gained a follower).
	if err := canFollow(*st, req); err != nil {
		return err
	}
	was := *st
	st.Follow = &FollowSpec{Leader: req.Leader}
	st.Role, st.Leader = RoleFollower, req.Leader.Name
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchRole.ValueSet(RoleFollower), SearchLeader.ValueSet(st.Leader)); err != nil {
		return err
	}
	err := startIntegration(ctx, st, set)
	if err == nil {
		return nil
	}
	// Undo: leave the leader's list (a leader that is gone has none), be what it was.
	_ = workflow.SignalExternalWorkflow(ctx, ServiceWorkflowID(req.Leader.Name), "", SignalRemoveFollower, st.Name).Get(ctx, nil)
	*st = was
	if serr := workflow.UpsertTypedSearchAttributes(ctx, SearchRole.ValueSet(st.Role), SearchLeader.ValueUnset()); serr != nil {
		return serr
	}
	if serr := set(was.State, was.Reason); serr != nil {
		return serr
	}
	return fmt.Errorf("%s cannot follow %s: %w; it is still a %s service", st.Name, req.Leader.Name, err, st.Role)
}

// startIntegration registers the follower with its leader and starts its integration workflow,
// failing with the reason when either cannot be done (startFollowing's checked form).
func startIntegration(ctx workflow.Context, st *ServiceState, set func(string, string) error) error {
	if err := workflow.SignalExternalWorkflow(ctx, ServiceWorkflowID(st.Leader), "", SignalAddFollower, st.Name).Get(ctx, nil); err != nil {
		return fmt.Errorf("leader %s is gone: %s", st.Leader, failureReason(err))
	}
	st.Replication = &IntegrationProgress{State: StateConnecting}
	if err := set(StateRebuilding, "connecting to leader "+st.Leader); err != nil {
		return err
	}
	child := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        IntegrationWorkflowID(st.Leader, st.Name),
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	in := IntegrationInput{Leader: st.Follow.Leader, Follower: st.ClusterRef(), LeaderAlias: st.Leader, ParentID: ServiceWorkflowID(st.Name)}
	if err := workflow.ExecuteChildWorkflow(child, IntegrationWorkflow, in).GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return fmt.Errorf("start integration %s: %s", IntegrationWorkflowID(st.Leader, st.Name), failureReason(err))
	}
	return nil
}
