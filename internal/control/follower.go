package control

import (
	"context"
	"errors"
	"fmt"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/lag"
	"github.com/osccr/osccr/internal/plan"
	"github.com/osccr/osccr/internal/provision"
	"github.com/osccr/osccr/internal/rules"
	"github.com/osccr/osccr/workflows"
)

// CreateFollowerRequest asks for a new follower of a leader service.
type CreateFollowerRequest struct {
	Leader string
	Name   string
	// Plan defaults to the leader's: at creation a follower must have the leader's plan.
	Plan        string
	Cloud       string
	Region      string
	ExtraDiskGB int
	// TerminationProtection refuses the follower's deletion while it is on.
	TerminationProtection bool
}

// CreateFollower provisions a follower of a leader service on the local backend, connects it
// and starts replicating the whole leader cluster into it (REBUILDING, then RUNNING). It
// refuses, with ErrInvalid, ErrNotFound or ErrConflict and nothing created, when:
//
//   - the follower's name is invalid, or names the leader itself;
//   - the leader is unknown, is itself a follower, or is not RUNNING;
//   - the plan is on the hobbyist or startup tier, or differs from the leader's;
//   - the extra disk is negative or more than MaxExtraDiskGB;
//   - the name is taken.
func (c *Control) CreateFollower(ctx context.Context, req CreateFollowerRequest) error {
	in, leader, err := c.followerInput(ctx, req)
	if err != nil {
		return err
	}
	return c.start(ctx, in, workflows.RoleFollower, leader.Name)
}

// PreviewFollower is `follower create --dry-run`: the request's checks as CreateFollower makes
// them (and that the name is free), then the preflight of the follower it would create
// (activities.PreflightLocalFollower) on the real leader and this installation's workers.
// Nothing is created; a refused request is refused with the same error as CreateFollower.
func (c *Control) PreviewFollower(ctx context.Context, req CreateFollowerRequest) (contract.PreflightReport, error) {
	in, leader, err := c.followerInput(ctx, req)
	if err != nil {
		return contract.PreflightReport{}, err
	}
	if _, err := c.GetService(ctx, req.Name); err == nil {
		return contract.PreflightReport{}, fmt.Errorf("%w: service %s already exists: choose another name", ErrConflict, req.Name)
	} else if !errors.Is(err, ErrNotFound) {
		return contract.PreflightReport{}, err
	}
	pin := contract.LocalFollowerPreflightInput{Leader: leader.ClusterRef(), Follower: in.Spec}
	return c.preflight(ctx, req.Name, workflows.LocalFollowerPreflightWorkflow, pin)
}

// followerInput checks a follower request (see CreateFollower) and returns the service
// workflow's input for it, and its leader.
func (c *Control) followerInput(ctx context.Context, req CreateFollowerRequest) (workflows.ServiceInput, workflows.ServiceState, error) {
	var in workflows.ServiceInput
	if err := provision.ValidateServiceName(req.Name); err != nil {
		return in, workflows.ServiceState{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if req.Name == req.Leader {
		return in, workflows.ServiceState{}, fmt.Errorf("%w: the follower would be the leader itself: give the follower another name", ErrInvalid)
	}
	leader, err := c.GetService(ctx, req.Leader)
	if errors.Is(err, ErrNotFound) {
		return in, leader, fmt.Errorf("%w: leader %s is unknown (osccr service list shows the services)", ErrNotFound, req.Leader)
	}
	if err != nil {
		return in, leader, err
	}
	if err := checkLeader(leader); err != nil {
		return in, leader, err
	}
	// Both sides of a replication run security the same way: the follower of a secured local
	// service is secured by the same installation CA (so transport TLS is trusted both ways,
	// and the leader's nodes_dn already admits it), the follower of a plain one is plain.
	security := contract.SecurityNone
	switch ref := leader.ClusterRef(); {
	case leader.LocalSecured():
		security = contract.SecurityPlugin
	case ref.Secured(ref.URL):
		return in, leader, fmt.Errorf("%w: leader %s is a registered cluster that runs the security plugin (%s with credentials); a local follower would have certificates from osccr's CA, which that cluster does not trust: register a secured cluster as the follower and make it follow with osccr integration create", ErrConflict, leader.Name, ref.URL)
	}
	_, followerPlan, err := followerPlans(leader, req.Plan)
	if err != nil {
		return in, leader, err
	}
	if err := checkExtraDisk(req.ExtraDiskGB); err != nil {
		return in, leader, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	spec := contract.ServiceSpec{Name: req.Name, Plan: followerPlan.Name, Cloud: orDefault(req.Cloud, "local"), Region: orDefault(req.Region, "local"),
		ExtraDiskGB: req.ExtraDiskGB, Backend: contract.BackendLocal, Security: security, TerminationProtection: req.TerminationProtection}
	follow := &workflows.FollowSpec{Leader: leader.ClusterRef()}
	return workflows.ServiceInput{Spec: spec, Follow: follow}, leader, nil
}

// followerPlans applies the plan rules to a follower of leader on the named plan (the leader's
// when empty), and returns the leader's plan and the follower's (rules.FollowerPlans). Breaking
// them is ErrInvalid.
func followerPlans(leader workflows.ServiceState, name string) (leaderPlan, followerPlan plan.Plan, err error) {
	leaderPlan, followerPlan, err = rules.FollowerPlans(leader.Name, leader.Plan, orDefault(name, leader.Plan))
	if err != nil && leaderPlan.Name != "" { // a leader on an unknown plan is not the caller's error
		err = fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return leaderPlan, followerPlan, err
}

// ListFollowers lists the live followers of a leader: one visibility query.
func (c *Control) ListFollowers(ctx context.Context, leader string) ([]ServiceSummary, error) {
	if err := provision.ValidateServiceName(leader); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return c.listServices(ctx, fmt.Sprintf(" AND %s = '%s'", workflows.SearchLeader.GetName(), leader))
}

// Promote makes a follower a standalone, writable service, for good: replication stops on
// every follower index, the remote connection and the integration are removed, the leader
// drops it from its followers. Promoting a promoted service answers with the same report.
// Refused (ErrConflict, nothing changed) for a service that is not a follower.
//
// The report says what the promoted service lacks of its leader (Loss), per index and in
// total, from the checkpoints the integration read as it stopped replication: both clusters'
// when the leader answered; the follower's and the leader's last known (the leader watch's
// last sample) when it did not, as "at least" with when the leader was last seen. It also says
// how many seconds behind its leader the follower was (LagSecondsAtPromotion): the worst
// index's at the stop, else the leader watch's last figure, read just before the promotion
// cancels the watch. Promoting again answers with the same loss.
func (c *Control) Promote(ctx context.Context, name string) (workflows.PromotionReport, error) {
	var before *lag.Follower
	if st, err := c.GetService(ctx, name); err == nil && st.Promotion == nil {
		before = st.Lag
	}
	var report workflows.PromotionReport
	err := c.updateService(ctx, name, "promote", workflows.UpdatePromote, true, &report)
	if err != nil {
		return report, err
	}
	c.addLoss(ctx, name, &report)
	if report.LagSecondsAtPromotion == nil && before != nil {
		seconds := before.Seconds // brought to the moment it was read, right before the stop began
		report.LagSecondsAtPromotion = &seconds
	}
	return report, nil
}

// addLoss adds what a promotion lost to its report, when the integration's history tells; a
// report without it says only the workflow's total (LagOps).
func (c *Control) addLoss(ctx context.Context, name string, report *workflows.PromotionReport) {
	if report.Loss != nil || report.FormerLeader == "" || report.PromotedAt.IsZero() {
		return
	}
	loss, err := c.promotionLoss(ctx, report.FormerLeader, name, report.PromotedAt.Add(-report.Duration))
	if err != nil || loss == nil {
		return
	}
	report.Loss = loss
	report.LagOps = loss.Operations
	if loss.Seconds != nil {
		seconds := *loss.Seconds
		if loss.AtLeast {
			seconds = max(seconds, loss.LeaderLastSeenBefore.Seconds())
		}
		report.LagSecondsAtPromotion = &seconds
	}
}
