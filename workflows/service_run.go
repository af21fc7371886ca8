package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
)

// One run of ServiceWorkflow: its state, the one request under way (its phase, which every
// validator consults), the handlers of its updates and signals, and its steps.

// servicePhase is the request a service is busy with. Requests exclude each other: while one
// runs, the others are refused with the reason (a second promotion joins the one under way).
type servicePhase string

const (
	phaseIdle       servicePhase = ""
	phaseFollowing  servicePhase = "following"
	phaseReplanning servicePhase = "replanning"
	phaseRecycling  servicePhase = "recycling"
	phasePromoting  servicePhase = "promoting"
	// phaseDeleting is never left: the run goes on to step 4.
	phaseDeleting servicePhase = "deleting"
)

// service is one run of ServiceWorkflow.
type service struct {
	st ServiceState
	// version is the run's version of ServiceWorkflow (versions.go).
	version workflow.Version
	// root is the workflow's context: search attributes are upserted with it.
	root workflow.Context
	// phase is the request under way (phaseIdle when none).
	phase servicePhase
	// promotionsBySignal counts the promotions started by signal: they run in workflow.Go,
	// which AllHandlersFinished does not see, and continuing as new waits for them.
	promotionsBySignal int
	// deleteRequested receives the accepted delete: it cancels a provision under way and ends
	// the main loop.
	deleteRequested workflow.Channel
	// progress receives the integration's reports; planAnswers a follower's answer to a plan
	// change.
	progress, planAnswers workflow.ReceiveChannel
}

func newService(ctx workflow.Context, in ServiceInput) *service {
	s := &service{root: ctx, version: readVersion(ctx, changeService, serviceVersion)}
	if in.State != nil {
		s.st = *in.State
	} else {
		s.st = ServiceState{ServiceSpec: in.Spec, Role: RoleStandalone, Followers: []string{}, State: StateProvisioning, CreatedAt: workflow.Now(ctx), Follow: in.Follow}
		if in.Follow != nil {
			s.st.Role, s.st.Leader = RoleFollower, in.Follow.Leader.Name
		}
	}
	// A run carried DELETING from one that continued as new mid-delete goes on deleting.
	if s.st.State == StateDeleting {
		s.phase = phaseDeleting
	}
	s.deleteRequested = workflow.NewChannel(ctx)
	s.progress = workflow.GetSignalChannel(ctx, SignalIntegrationProgress)
	s.planAnswers = workflow.GetSignalChannel(ctx, SignalPlanChanged)
	return s
}

// set changes the service's state and its search attribute.
func (s *service) set(state, reason string) error {
	s.st.State, s.st.Reason = state, reason
	return workflow.UpsertTypedSearchAttributes(s.root, SearchState.ValueSet(state))
}

func (s *service) deleting() bool { return s.phase == phaseDeleting }

// enter starts a request's phase; leave ends it, unless another phase took over.
func (s *service) enter(p servicePhase) { s.phase = p }
func (s *service) leave(p servicePhase) {
	if s.phase == p {
		s.phase = phaseIdle
	}
}

// current is the phase, counting a promotion started by signal that has not yet begun.
func (s *service) current() servicePhase {
	if s.phase == phaseIdle && s.promotionsBySignal > 0 {
		return phasePromoting
	}
	return s.phase
}

// busy refuses a request while another one runs, saying which; allowed is a phase the request
// may run beside (a promotion joins the one under way).
func (s *service) busy(allowed servicePhase) error {
	p := s.current()
	if p == phaseIdle || p == allowed {
		return nil
	}
	name := s.st.Name
	switch p {
	case phaseFollowing:
		return fmt.Errorf("service %s is becoming a follower; try again in a moment", name)
	case phaseReplanning:
		return fmt.Errorf("service %s is changing its plan; try again once that is done", name)
	case phaseRecycling:
		return fmt.Errorf("a node of service %s is being recycled; try again once it is done", name)
	case phasePromoting:
		return fmt.Errorf("service %s is being promoted; try again once the promotion is done", name)
	case phaseDeleting:
		return fmt.Errorf("service %s is being deleted", name)
	}
	return fmt.Errorf("service %s is busy (%s)", name, p)
}

// Validators of the updates: each is the request's own rule, and the phase.
func (s *service) validateDelete() error {
	return firstError(canDelete(s.st, s.deleting()), s.busy(phaseIdle))
}
func (s *service) validateRecycle(string) error {
	return firstError(canRecycle(s.st, s.deleting(), s.phase == phaseRecycling), s.busy(phaseIdle))
}
func (s *service) validatePromote() error {
	return firstError(canPromote(s.st, s.deleting()), s.busy(phasePromoting))
}
func (s *service) validateFollow(req FollowRequest) error {
	return firstError(s.busy(phaseIdle), canFollow(s.st, req))
}
func (s *service) validatePlan(req PlanChange) error {
	return firstError(s.busy(phaseIdle), CheckPlanChange(s.st, req))
}

// register sets the query and the update handlers.
func (s *service) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryService, func() (ServiceState, error) { return s.st, nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateDelete, s.onDelete,
		workflow.UpdateHandlerOptions{Validator: s.validateDelete}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateRecycleNode, s.onRecycle,
		workflow.UpdateHandlerOptions{Validator: s.validateRecycle}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdatePromote, s.promote,
		workflow.UpdateHandlerOptions{Validator: s.validatePromote}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateFollow, s.onFollow,
		workflow.UpdateHandlerOptions{Validator: s.validateFollow}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdatePlan, s.onPlan,
		workflow.UpdateHandlerOptions{Validator: s.validatePlan})
}

// onDelete is the delete update's handler: the main loop ends and step 4 runs.
func (s *service) onDelete(workflow.Context) (ServiceState, error) {
	s.enter(phaseDeleting)
	s.deleteRequested.SendAsync(true)
	return s.st, s.set(StateDeleting, "deletion requested")
}

// onRecycle is the recycle-node update's handler.
func (s *service) onRecycle(ctx workflow.Context, node string) (ServiceState, error) {
	s.enter(phaseRecycling)
	defer s.leave(phaseRecycling)
	return s.st, recycleNode(ctx, &s.st, node)
}

// promote is the promote update's handler, and runs the promotions started by signal. A second
// promotion waits for the one under way and reports it.
func (s *service) promote(ctx workflow.Context) (PromotionReport, error) {
	if err := workflow.Await(ctx, func() bool { return s.phase != phasePromoting }); err != nil {
		return PromotionReport{}, err
	}
	if s.st.Promotion != nil { // idempotent: promoting again reports the promotion that was
		return *s.st.Promotion, nil
	}
	s.enter(phasePromoting)
	defer s.leave(phasePromoting)
	return promoteFollower(ctx, &s.st, s.set)
}

// onFollow is the follow update's handler (service_follow.go).
func (s *service) onFollow(ctx workflow.Context, req FollowRequest) (ServiceState, error) {
	s.enter(phaseFollowing)
	defer s.leave(phaseFollowing)
	return s.st, followLeader(ctx, &s.st, req, s.set)
}

// onPlan is the plan update's handler (service_plan.go).
func (s *service) onPlan(ctx workflow.Context, req PlanChange) (ServiceState, error) {
	s.enter(phaseReplanning)
	defer s.leave(phaseReplanning)
	err := changePlan(ctx, &s.st, req, s.planAnswers)
	s.st.Reason = ""
	if err != nil {
		s.st.Reason = fmt.Sprintf("plan change to %s failed: %v", req.Plan, err)
	}
	return s.st, err
}

// provision is step 1: the backend makes the cluster exist and answer; a follower then starts
// following. A delete while provisioning (say, an unreachable cluster being retried) cancels it.
func (s *service) provision(ctx workflow.Context) error {
	var a *activities.Activities
	pctx, cancelProvision := workflow.WithCancel(ctx)
	var err error
	if s.st.Backend == activities.BackendLocal && s.st.Machine == "" {
		// Placed first, so that every retry of the provision (and everything after it) reaches
		// the same machine: a retry elsewhere would leave the first machine's nodes orphaned.
		err = s.untilDeleted(ctx, workflow.ExecuteActivity(withIO(pctx, time.Minute, 0), a.PlaceService, s.st.ServiceSpec), cancelProvision, &s.st.Machine)
	}
	if err == nil && !s.deleting() {
		pctx := onMachine(withIO(pctx, 15*time.Minute, activities.LifecycleHeartbeatTimeout), s.st.ServiceSpec)
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
	return startFollowing(ctx, &s.st, s.set)
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

// serve is steps 2-3: it takes the integration's progress, promotions by signal, the leader's
// follower list and a leader's plan change until the service is deleted. It returns a
// continue-as-new error when Temporal suggests one.
func (s *service) serve(ctx workflow.Context) error {
	progress := s.progress
	promotes := workflow.GetSignalChannel(ctx, SignalPromote)
	adds := workflow.GetSignalChannel(ctx, SignalAddFollower)
	removes := workflow.GetSignalChannel(ctx, SignalRemoveFollower)
	planChanges := workflow.GetSignalChannel(ctx, SignalChangePlan)
	// quiet is set once continuing as new was suggested
	// and no handler, plan change or promotion is under way; the loop keeps serving meanwhile,
	// since a promotion waits for the integration's report, which the loop receives.
	var quiet workflow.Future
	quietNow := false
	pending := func() int {
		return progress.Len() + promotes.Len() + adds.Len() + removes.Len() + planChanges.Len()
	}
	idle := func() bool {
		return workflow.AllHandlersFinished(ctx) && s.phase != phaseReplanning && s.promotionsBySignal == 0
	}
	for !s.deleting() {
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(s.deleteRequested, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.AddReceive(progress, func(c workflow.ReceiveChannel, _ bool) {
			var p IntegrationProgress
			c.Receive(ctx, &p)
			s.onProgress(ctx, p)
		})
		sel.AddReceive(promotes, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			s.onPromoteSignal(ctx)
		})
		sel.AddReceive(adds, func(c workflow.ReceiveChannel, _ bool) {
			var name string
			c.Receive(ctx, &name)
			if !slices.Contains(s.st.Followers, name) {
				s.st.Followers = append(s.st.Followers, name)
			}
			setRole(ctx, &s.st)
		})
		sel.AddReceive(removes, func(c workflow.ReceiveChannel, _ bool) {
			var name string
			c.Receive(ctx, &name)
			s.st.Followers = slices.DeleteFunc(s.st.Followers, func(f string) bool { return f == name })
			setRole(ctx, &s.st)
		})
		sel.AddReceive(planChanges, func(c workflow.ReceiveChannel, _ bool) {
			var req PlanChange
			c.Receive(ctx, &req)
			s.onPlanSignal(ctx, req)
		})
		if quiet != nil { // last: a pending signal is handled first
			sel.AddFuture(quiet, func(workflow.Future) { quiet, quietNow = nil, true })
		}
		sel.Select(ctx)
		if s.deleting() || !workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			continue
		}
		if quietNow {
			quietNow = false
			if pending() == 0 && idle() { // signals that arrived meanwhile are handled before
				return s.continueAsNew(ctx)
			}
		}
		if quiet == nil {
			f, settle := workflow.NewFuture(ctx)
			quiet = f
			workflow.Go(ctx, func(ctx workflow.Context) {
				settle.Set(nil, workflow.Await(ctx, idle))
			})
		}
	}
	return nil
}

func (s *service) continueAsNew(ctx workflow.Context) error {
	return workflow.NewContinueAsNewError(ctx, ServiceWorkflow, ServiceInput{Spec: s.st.ServiceSpec, State: &s.st})
}

// onProgress takes the integration's progress report.
func (s *service) onProgress(ctx workflow.Context, p IntegrationProgress) {
	promoting := s.phase == phasePromoting
	onIntegrationProgress(ctx, &s.st, p, s.set, s.deleting() || promoting)
	if p.State == StateStopped && !s.deleting() && !promoting && s.st.Role == RoleFollower {
		// A promotion that gave up waiting: its stop finished after all.
		_ = s.set(s.st.State, "replication stopped and the integration ended, but the promotion that asked for it gave up waiting; promote again to finish it ("+p.Reason+")")
	}
}

// onPromoteSignal starts a promotion asked for by signal (from the Temporal Web UI, say), when
// the promote update would accept it; it runs beside the main loop, which receives the
// integration's report it waits for.
func (s *service) onPromoteSignal(ctx workflow.Context) {
	if s.validatePromote() != nil {
		return
	}
	s.promotionsBySignal++
	workflow.Go(ctx, func(ctx workflow.Context) {
		_, _ = s.promote(ctx)
		s.promotionsBySignal--
	})
}

// onPlanSignal takes a leader's plan change: the follower changes first and answers.
func (s *service) onPlanSignal(ctx workflow.Context, req PlanChange) {
	refused := s.validatePlan(req)
	if refused == nil {
		s.enter(phaseReplanning)
	}
	answerPlanChange(ctx, &s.st, req, refused, func() {
		if refused == nil {
			s.leave(phaseReplanning)
		}
	})
}

// delete is step 4: a follower first stops replicating and leaves its leader's list; the
// backend removes what osccr runs.
func (s *service) delete(ctx workflow.Context) error {
	var a *activities.Activities
	note := ""
	if s.st.Follow != nil && s.st.Replication != nil {
		note = stopFollowing(ctx, &s.st, s.progress)
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
