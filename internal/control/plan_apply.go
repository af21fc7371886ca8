package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/osccr/osccr/internal/plan"
	"github.com/osccr/osccr/workflows"
)

// Waits of ApplyPlan (Control.PlanWait and Control.PlanLeaderWait override them).
const (
	// DefaultPlanWait bounds how long ApplyPlan waits for a plan change: past it, the change
	// goes on and the answer is ErrInProgress (asking again waits for it again). Within the HTTP
	// API's write timeout; a leader with one follower on this machine changes in about a minute.
	DefaultPlanWait = 2 * time.Minute
	// DefaultPlanLeaderWait bounds how long a follower asked for a plan waits for its leader to
	// move to it: a tool that changes a leader and its follower in parallel (Terraform) may ask
	// the follower first.
	DefaultPlanLeaderWait = 30 * time.Second
)

func (c *Control) planWait() time.Duration {
	if c.PlanWait > 0 {
		return c.PlanWait
	}
	return DefaultPlanWait
}

func (c *Control) planLeaderWait() time.Duration {
	if c.PlanLeaderWait > 0 {
		return c.PlanLeaderWait
	}
	return DefaultPlanLeaderWait
}

// ApplyPlan moves a service to a plan and returns once the service has it, with its state: the
// request of a tool that states what a service should be (Aiven's update, so Terraform) and
// changes a leader and its followers in parallel.
//
//   - A service already on the plan, with no change under way: nothing to do.
//   - A service already moving to the plan (a request asked again after ErrInProgress): it
//     waits for that change.
//   - A follower: its plan changes only with its leader's (rules.CanChangePlan). Asked for the
//     plan its leader is moving to, it waits for its own part of the leader's change; asked
//     for another, it waits up to PlanLeaderWait for the leader to start moving to it, then
//     is refused by the rule (ErrConflict, naming it).
//   - A leader or a standalone service: the plan update (UpdatePlan), waited for; a leader's
//     followers change first.
//
// Past PlanWait the change goes on and the answer is ErrInProgress. A change that fails is
// ErrConflict with the service's reason. Needs service workflow version 4 (a change's target
// in the state) for a follower's wait and for asking again; an older run's follower is refused
// by the rule unless it already has the plan.
func (c *Control) ApplyPlan(ctx context.Context, name, planName string) (workflows.ServiceState, error) {
	if _, err := plan.Default().Lookup(planName); err != nil {
		return workflows.ServiceState{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	st, err := c.GetService(ctx, name)
	if err != nil {
		return st, err
	}
	began := time.Now()
	wctx, cancel := context.WithTimeout(ctx, c.planWait())
	defer cancel()
	switch {
	case st.PlanTarget == "" && st.Plan == planName:
		return st, nil
	case st.PlanTarget == planName:
		return c.awaitPlan(ctx, wctx, name, planName, began)
	case st.Role == workflows.RoleFollower:
		return c.awaitLeaderPlan(ctx, wctx, st, planName, began)
	}
	out, err := c.UpdatePlan(wctx, name, planName, true)
	if err != nil && wctx.Err() != nil && ctx.Err() == nil {
		return c.planInProgress(ctx, name, planName, began)
	}
	return out, err
}

// awaitPlan waits until the change of name to planName under way is done.
func (c *Control) awaitPlan(ctx, wctx context.Context, name, planName string, began time.Time) (workflows.ServiceState, error) {
	return c.pollPlan(ctx, wctx, name, planName, began, func(st workflows.ServiceState) (bool, error) {
		switch {
		case st.PlanTarget == planName:
			return false, nil
		case st.Plan == planName:
			return true, nil
		}
		return true, planFailed(st, planName)
	})
}

// awaitLeaderPlan waits until follower f has planName through its leader's change: the leader
// must be moving to it (or f already be) within PlanLeaderWait.
func (c *Control) awaitLeaderPlan(ctx, wctx context.Context, f workflows.ServiceState, planName string, began time.Time) (workflows.ServiceState, error) {
	leaderBy := began.Add(c.planLeaderWait())
	return c.pollPlan(ctx, wctx, f.Name, planName, began, func(st workflows.ServiceState) (bool, error) {
		switch {
		case st.PlanTarget == planName:
			return false, nil // its part of the leader's change is under way
		case st.Plan == planName && st.PlanTarget == "":
			return true, nil
		case st.Role != workflows.RoleFollower:
			return true, fmt.Errorf("%w: service %s is no longer a follower (%s): ask again to change its plan", ErrConflict, st.Name, st.Role)
		}
		leader, err := c.GetService(ctx, st.Leader)
		if err == nil && leader.PlanTarget == planName {
			return false, nil // the leader moves its followers first: this one's turn comes
		}
		if time.Now().Before(leaderBy) {
			return false, nil
		}
		refusal := workflows.CheckPlanChange(st, workflows.PlanChange{Plan: planName})
		if refusal == nil { // not a follower any more; the loop's next look says so
			return false, nil
		}
		return true, fmt.Errorf("%w: change plan of %s: %w (its leader %s did not start moving to %s within %s)", ErrConflict, st.Name, refusal, st.Leader, planName, c.planLeaderWait())
	})
}

// pollPlan reads the service until done says so, or wctx ends (ErrInProgress).
func (c *Control) pollPlan(ctx, wctx context.Context, name, planName string, began time.Time, done func(workflows.ServiceState) (bool, error)) (workflows.ServiceState, error) {
	tick := newTicker()
	defer tick.Stop()
	var last workflows.ServiceState
	for {
		st, err := c.GetService(wctx, name)
		switch {
		case err == nil:
			last = st
			if ok, err := done(st); ok || err != nil {
				return st, err
			}
		case wctx.Err() == nil && !errors.Is(err, ErrUnreachable):
			return st, err
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return last, fmt.Errorf("waiting for the plan change of %s to %s: %w", name, planName, ctx.Err())
			}
			return c.planInProgress(ctx, name, planName, began)
		case <-tick.C:
		}
	}
}

// planInProgress is the answer when the wait ended with the change still under way.
func (c *Control) planInProgress(ctx context.Context, name, planName string, began time.Time) (workflows.ServiceState, error) {
	st, _ := c.GetService(ctx, name)
	return st, fmt.Errorf("%w: the plan change of %s to %s goes on after %s (its nodes restart one at a time, a leader's followers first): ask again to wait for it, or GET the service: its plan shows %s once applied",
		ErrInProgress, name, planName, time.Since(began).Round(time.Second), planName)
}

// planFailed says why a change to planName that ended left st on another plan.
func planFailed(st workflows.ServiceState, planName string) error {
	if st.Reason != "" {
		return fmt.Errorf("%w: change plan of %s to %s: %s", ErrConflict, st.Name, planName, st.Reason)
	}
	return fmt.Errorf("%w: change plan of %s to %s ended with it on %s", ErrConflict, st.Name, planName, st.Plan)
}
