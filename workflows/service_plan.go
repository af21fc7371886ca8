package workflows

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/rules"
)

// A plan change: the update an operator sends to a service, and the signals with which a leader
// has each of its followers change too.
const (
	// UpdatePlan moves a service to another plan; its argument is a PlanChange.
	UpdatePlan = "plan"
	// SignalChangePlan (a PlanChange from the leader) asks a follower to change its plan.
	SignalChangePlan = "change-plan"
	// SignalPlanChanged (a PlanChanged) is the follower's answer to its leader.
	SignalPlanChanged = "plan-changed"
)

// followerPlanTimeout bounds how long a leader waits for one follower's plan change.
const followerPlanTimeout = 2 * time.Hour

// PlanChange asks a service to move to Plan.
type PlanChange struct {
	Plan string `json:"plan"`
	// Leader is set when a leader changes its followers' plans with its own: a follower's plan
	// changes only that way, so that it always equals its leader's.
	Leader string `json:"leader,omitempty"`
}

// PlanChanged is a follower's answer to SignalChangePlan.
type PlanChanged struct {
	Service string `json:"service"`
	Plan    string `json:"plan"`
	// Error says why the follower did not change; empty when it did.
	Error string `json:"error,omitempty"`
}

// CheckPlanChange applies the rules of a plan change to a service (rules.CanChangePlan). The plan
// update's validator applies it; the application layer applies it to a leader's followers
// before asking.
func CheckPlanChange(st ServiceState, req PlanChange) error {
	return rules.CanChangePlan(st.RuleView(), req.Plan, req.Leader)
}

// validatePlan is the plan update's validator: the phase, and the rule.
func (s *service) validatePlan(req PlanChange) error {
	return firstError(s.busy(phaseIdle), CheckPlanChange(s.st, req))
}

// onPlan is the plan update's handler (service_plan.go).
func (s *service) onPlan(ctx workflow.Context, req PlanChange) (ServiceState, error) {
	s.enter(phaseReplanning)
	defer s.leave(phaseReplanning)
	if s.version >= 4 {
		s.st.PlanTarget = req.Plan
		defer func() { s.st.PlanTarget = "" }()
	}
	err := s.changePlan(ctx, req)
	s.st.Reason = ""
	if err != nil {
		s.st.Reason = fmt.Sprintf("plan change to %s failed: %v", req.Plan, err)
	}
	return s.st, err
}

// onPlanSignal takes a leader's plan change: the follower changes first and answers.
func (s *service) onPlanSignal(ctx workflow.Context, req PlanChange) {
	refused := s.validatePlan(req)
	if refused == nil {
		s.enter(phaseReplanning)
		if s.version >= 4 {
			s.st.PlanTarget = req.Plan
		}
	}
	s.answerPlanChange(ctx, req, refused, func() {
		if refused == nil {
			s.leave(phaseReplanning)
			if s.version >= 4 {
				s.st.PlanTarget = ""
			}
		}
	})
}

// changePlan is the plan update's handler. A leader's followers change first, one at a time,
// each answering before the next starts: a follower must never have less than its leader. Then
// the service changes itself. A follower that fails stops the change there, saying which
// followers already changed; running the same change again completes it (a service already on
// the plan restarts nothing). A pause that cannot be delivered refuses the change of this
// service's own nodes, as it refuses a node recycle.
func (s *service) changePlan(ctx workflow.Context, req PlanChange) error {
	var changed []string
	for _, f := range slices.Clone(s.st.Followers) {
		ask := PlanChange{Plan: req.Plan, Leader: s.st.Name}
		if err := workflow.SignalExternalWorkflow(ctx, ServiceWorkflowID(f), "", SignalChangePlan, ask).Get(ctx, nil); err != nil {
			continue // a follower that is gone has no plan to change
		}
		answer, err := awaitPlanChanged(ctx, s.planAnswers, f, req.Plan)
		if err == nil && answer.Error != "" {
			err = errors.New(answer.Error)
		}
		if err != nil {
			return fmt.Errorf("follower %s did not change to plan %s: %v (followers changed so far: %v; %s stays on %s); fix that and run the same change again",
				f, req.Plan, err, changed, s.st.Name, s.st.Plan)
		}
		changed = append(changed, f)
	}
	return s.applyPlan(ctx, req.Plan)
}

// awaitPlanChanged waits for follower's answer about plan, ignoring stale answers.
func awaitPlanChanged(ctx workflow.Context, answers workflow.ReceiveChannel, follower, planName string) (PlanChanged, error) {
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	timeout := workflow.NewTimer(tctx, followerPlanTimeout)
	for {
		var answer PlanChanged
		timedOut := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(answers, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &answer) })
		sel.AddFuture(timeout, func(workflow.Future) { timedOut = true })
		sel.Select(ctx)
		if timedOut {
			return answer, fmt.Errorf("no answer within %s", followerPlanTimeout)
		}
		if answer.Service == follower && answer.Plan == planName {
			return answer, nil
		}
	}
}

// applyPlan moves this service's own nodes to the plan. Nodes osccr runs restart one at a time
// with the new plan's resources, replication on the affected followers paused meanwhile as for
// a node recycle; a registered cluster's plan is only recorded. The state shows the new plan
// once it is applied.
func (s *service) applyPlan(ctx workflow.Context, planName string) error {
	if planName == s.st.Plan {
		return nil
	}
	var a *activities.Activities
	spec := s.st.ServiceSpec
	spec.Plan = planName
	change := func() error {
		return workflow.ExecuteActivity(onMachine(withIO(ctx, 30*time.Minute, contract.LifecycleHeartbeatTimeout), spec), a.ChangeServicePlan, spec).Get(ctx, nil)
	}
	var err error
	if s.st.Backend == contract.BackendLocal {
		err = s.withReplicationPaused(ctx, fmt.Sprintf("plan change of %s from %s to %s: its nodes restart one at a time", s.st.Name, s.st.Plan, planName), change)
	} else {
		err = change()
	}
	if err != nil {
		return errors.New(failureReason(err))
	}
	s.st.Plan = planName
	return workflow.UpsertTypedSearchAttributes(ctx, SearchPlan.ValueSet(planName))
}

// answerPlanChange runs a leader's plan change on this follower, in the background of the main
// loop (the integration's progress must keep flowing meanwhile), and answers the leader.
func (s *service) answerPlanChange(ctx workflow.Context, req PlanChange, refused error, done func()) {
	workflow.Go(ctx, func(ctx workflow.Context) {
		err := refused
		if err == nil {
			err = s.applyPlan(ctx, req.Plan)
		}
		done()
		answer := PlanChanged{Service: s.st.Name, Plan: req.Plan}
		if err != nil {
			answer.Error = err.Error()
		}
		// A leader that is gone waits for no answer.
		_ = workflow.SignalExternalWorkflow(ctx, ServiceWorkflowID(req.Leader), "", SignalPlanChanged, answer).Get(ctx, nil)
	})
}
