package workflows

// The promote request (update or signal): a follower becomes a standalone, writable service,
// for good.

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// validatePromote is the promote update's validator: the rule, and the phase (a second
// promotion joins the one under way).
func (s *service) validatePromote() error {
	return firstError(canPromote(s.st, s.deleting()), s.busy(phasePromoting))
}

// CheckPromote says whether a service can be promoted now: the promote update's rule, for a
// caller that wants to know before asking (a dry run).
func CheckPromote(st ServiceState) error { return canPromote(st, false) }

// canPromote is the promote update's validator. Promoting a promoted service is allowed: it
// answers with the earlier report.
func canPromote(st ServiceState, deleting bool) error {
	switch {
	case deleting || st.State == StateDeleting:
		return fmt.Errorf("service %s is being deleted", st.Name)
	case st.Promotion != nil:
		return nil
	case st.Role != RoleFollower:
		return fmt.Errorf("service %s is not a follower (it is %s): only a follower can be promoted", st.Name, st.Role)
	case st.State == StateProvisioning:
		return fmt.Errorf("service %s is still PROVISIONING", st.Name)
	}
	return nil
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
	return s.promoteFollower(ctx)
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

// promotionStopTimeout bounds how long a promotion waits for the integration's STOPPED report.
// The integration's stop cancels what it was doing at once and gives each of its calls a budget
// (stopIndexBudget, stopDisconnectBudget), so this is only reached when its worker is gone or
// the follower cluster does not answer.
const promotionStopTimeout = 3 * time.Minute

// promoteFollower makes a follower standalone: every follower index stops replicating and
// becomes writable, the remote connection is removed, the integration ends, the leader drops
// it from its followers, and the service is a standalone, writable service for good:
//
//  1. PROMOTING; the integration is told to stop (it cancels its pending work at once);
//  2. its STOPPED report is waited for, at most promotionStopTimeout: on expiry, or when the
//     integration cannot be told, the promotion fails with the reason, and the service goes
//     back to the state it was in (promoting again retries);
//  3. the report carries what the stop could not do and the indexes it deleted (still
//     restoring: the plugin's _stop deletes them); the leader drops the follower from its
//     list, and the service is standalone and RUNNING for good.
func (s *service) promoteFollower(ctx workflow.Context) (PromotionReport, error) {
	began := workflow.Now(ctx)
	report := PromotionReport{FormerLeader: s.st.Leader}
	wasState := s.st.State
	abandon := func(cause string) (PromotionReport, error) {
		err := fmt.Errorf("promotion of %s failed: %s; it is still a follower of %s: promote again to retry", s.st.Name, cause, s.st.Leader)
		if serr := s.set(wasState, err.Error()); serr != nil {
			return report, serr
		}
		return report, temporal.NewApplicationError(err.Error(), "PromotionFailed")
	}
	if err := s.set(StatePromoting, "promoting to standalone"); err != nil {
		return report, err
	}
	if s.st.Replication != nil && s.st.Replication.State != StateStopped {
		id := IntegrationWorkflowID(s.st.Leader, s.st.Name)
		if err := workflow.SignalExternalWorkflow(ctx, id, "", SignalStopIntegration, nil).Get(ctx, nil); err != nil {
			return abandon(fmt.Sprintf("integration %s could not be told to stop (%s)", id, failureReason(err)))
		}
		stopped, err := workflow.AwaitWithTimeout(ctx, promotionStopTimeout, func() bool { return s.st.Replication.State == StateStopped })
		if err != nil {
			return report, err
		}
		if !stopped {
			return abandon(fmt.Sprintf("integration %s did not report STOPPED within %s (it was %s); some follower indexes may still be replicating",
				id, promotionStopTimeout, s.st.Replication.State))
		}
	}
	note := ""
	if r := s.st.Replication; r != nil {
		report.IndexesStopped, report.LagOps = r.Stopped, r.LagOps
		report.IndexesDeleted, report.Problems = slices.Clone(r.DeletedRestoring), slices.Clone(r.Problems)
		if len(r.Problems) > 0 || len(r.DeletedRestoring) > 0 {
			note = r.Reason
		}
	}
	return s.becomeStandalone(ctx, report, began, note)
}

// becomeStandalone is the end of a promotion, once replication has stopped: the leader drops
// the service from its followers, the service is standalone and RUNNING with the report (and
// note as its reason).
func (s *service) becomeStandalone(ctx workflow.Context, report PromotionReport, began time.Time, note string) (PromotionReport, error) {
	// A leader that is gone has no list to leave.
	_ = workflow.SignalExternalWorkflow(ctx, ServiceWorkflowID(s.st.Leader), "", SignalRemoveFollower, s.st.Name).Get(ctx, nil)
	s.st.Role, s.st.Leader, s.st.Follow = RoleStandalone, "", nil
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchRole.ValueSet(RoleStandalone), SearchLeader.ValueUnset()); err != nil {
		return report, err
	}
	report.PromotedAt = workflow.Now(ctx)
	report.Duration = report.PromotedAt.Sub(began)
	s.st.Promotion = &report
	if s.st.RunningAt.IsZero() {
		s.st.RunningAt = report.PromotedAt
	}
	return report, s.set(StateRunning, note)
}
