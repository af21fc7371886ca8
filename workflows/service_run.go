package workflows

import (
	"fmt"
	"slices"

	"go.temporal.io/sdk/workflow"
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
	// health is the health watch under way, repair the repair under way, healthPause and
	// repairRetry the timers after a failed watch or repair (service_health.go; version >= 3).
	health, repair, healthPause, repairRetry workflow.Future
	// cancelHealth cancels the health watch under way (version >= 5): a repair that moved the
	// cluster's address restarts the watch there.
	cancelHealth workflow.CancelFunc
	// force is set by a force-delete; forceRequested cuts a deprovision under way (version >= 3).
	force          bool
	forceRequested workflow.Channel
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
	s.forceRequested = workflow.NewBufferedChannel(ctx, 1)
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

// register sets the query and the update handlers.
func (s *service) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryService, func() (ServiceState, error) { return s.st, nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateDelete, s.onDelete,
		workflow.UpdateHandlerOptions{Validator: s.validateDelete}); err != nil {
		return err
	}
	if s.version >= 3 {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateForceDelete, s.onForceDelete,
			workflow.UpdateHandlerOptions{Validator: s.validateForceDelete}); err != nil {
			return err
		}
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
	if s.version >= 1 {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateTerminationProtection, s.onTerminationProtection,
			workflow.UpdateHandlerOptions{Validator: s.validateTerminationProtection}); err != nil {
			return err
		}
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdatePlan, s.onPlan,
		workflow.UpdateHandlerOptions{Validator: s.validatePlan})
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
		return workflow.AllHandlersFinished(ctx) && s.phase != phaseReplanning && s.promotionsBySignal == 0 && s.repair == nil
	}
	for !s.deleting() {
		sel := workflow.NewSelector(ctx)
		if s.version >= 3 {
			s.addHealth(ctx, sel)
		}
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
			s.setRole(ctx)
		})
		sel.AddReceive(removes, func(c workflow.ReceiveChannel, _ bool) {
			var name string
			c.Receive(ctx, &name)
			s.st.Followers = slices.DeleteFunc(s.st.Followers, func(f string) bool { return f == name })
			s.setRole(ctx)
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
	s.onIntegrationProgress(ctx, p, s.deleting() || promoting)
	if p.State == StateStopped && !s.deleting() && !promoting && s.st.Role == RoleFollower {
		// A promotion that gave up waiting: its stop finished after all.
		_ = s.set(s.st.State, "replication stopped and the integration ended, but the promotion that asked for it gave up waiting; promote again to finish it ("+p.Reason+")")
	}
}

// onIntegrationProgress maps the integration's state onto the follower's.
func (s *service) onIntegrationProgress(ctx workflow.Context, p IntegrationProgress, deleting bool) {
	s.st.Replication = &p
	if deleting || s.version >= 3 && s.down() { // back from down, the health watch sets it
		return
	}
	switch p.State {
	case StateConnecting:
		_ = s.set(StateRebuilding, "connecting to leader "+s.st.Leader)
	case StateRebuilding:
		_ = s.set(StateRebuilding, fmt.Sprintf("%d of %d indexes syncing", p.Syncing, p.Total))
	case StateRunning:
		if s.st.RunningAt.IsZero() {
			s.st.RunningAt = workflow.Now(ctx)
		}
		_ = s.set(StateRunning, p.Reason) // "" unless some index needs attention
	case StatePaused:
		_ = s.set(StatePaused, p.Reason)
	case StateFailed:
		_ = s.set(StateFailed, p.Reason)
	}
}

// setRole makes a service with followers a leader and one without them standalone again.
func (s *service) setRole(ctx workflow.Context) {
	if s.st.Role == RoleFollower {
		return
	}
	s.st.Role = RoleStandalone
	if len(s.st.Followers) > 0 {
		s.st.Role = RoleLeader
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, SearchRole.ValueSet(s.st.Role))
}
