package workflows

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/lag"
)

// Service states, in the vocabulary operators see (the seeds' and the managed offerings').
const (
	StateProvisioning = "PROVISIONING"
	StateDeleting     = "DELETING"
	StateFailed       = "FAILED"
	StatePromoting    = "PROMOTING"
	// StateRunning, StatePaused and StateRebuilding are shared with replication.
)

// Service roles.
const (
	RoleStandalone = "standalone"
	RoleLeader     = "leader"
	RoleFollower   = "follower"
)

// Queries, updates and signals of ServiceWorkflow.
const (
	QueryService = "service"
	UpdateDelete = "delete"
	// UpdatePromote and SignalPromote make a follower a standalone, writable service, for good.
	// The update answers with a PromotionReport; the signal is for callers that want no answer.
	UpdatePromote = "promote"
	SignalPromote = "promote"
	// UpdateRecycleNode restarts a node of the service (its argument: the node name, "" for the
	// first), pausing replication on the affected followers meanwhile.
	UpdateRecycleNode = "recycle-node"
	serviceIDPart     = "service/"
	// SignalAddFollower and SignalRemoveFollower keep a leader's list of followers.
	SignalAddFollower    = "add-follower"
	SignalRemoveFollower = "remove-follower"
)

// ServiceWorkflowID is the ID of the workflow that holds a service: one per service name.
func ServiceWorkflowID(name string) string { return serviceIDPart + name }

// ServiceState is everything osccr knows about a service; the service query returns it.
type ServiceState struct {
	activities.ServiceSpec
	Role        string                      `json:"role"`
	Leader      string                      `json:"leader"`
	Followers   []string                    `json:"followers"`
	State       string                      `json:"state"`
	Reason      string                      `json:"reason,omitempty"`
	Endpoints   activities.ServiceEndpoints `json:"endpoints"`
	CreatedAt   time.Time                   `json:"created_at"`
	RunningAt   time.Time                   `json:"running_at,omitempty"`
	Follow      *FollowSpec                 `json:"follow,omitempty"`
	Replication *IntegrationProgress        `json:"replication,omitempty"`
	// Promotion is set once the service was promoted from follower to standalone: it can
	// never be a follower again.
	Promotion *PromotionReport `json:"promotion,omitempty"`
	// Lag is a follower's lag in seconds as its leader watch last reported it. The workflow
	// never sets it: the application layer fills it in when it shows a service.
	Lag *lag.Follower `json:"lag,omitempty"`
}

// ClusterRef is how activities reach the service's cluster: with the spec's references (a
// static service's), else those its backend made when it provisioned it (a secured local
// service's CA and password files).
func (st ServiceState) ClusterRef() activities.ClusterRef {
	auth := st.ClusterAuth
	if auth == (activities.ClusterAuth{}) {
		auth = st.Endpoints.Auth
	}
	return activities.ClusterRef{Name: st.Name, URL: st.Endpoints.HTTPURL, TransportAddress: st.Endpoints.TransportAddress, ClusterAuth: auth}
}

// PromotionReport says what a promotion did.
type PromotionReport struct {
	FormerLeader   string `json:"former_leader"`
	IndexesStopped int    `json:"indexes_stopped"`
	LagOps         int64  `json:"lag_ops_at_promotion"`
	// LagSecondsAtPromotion is how many seconds behind its leader the follower was when the
	// promotion stopped replication. The workflow never sets it: the application layer adds it
	// to the answer of the promotion (control.Promote).
	LagSecondsAtPromotion *float64      `json:"lag_seconds_at_promotion,omitempty"`
	Duration              time.Duration `json:"duration_ns"`
	PromotedAt            time.Time     `json:"promoted_at"`
	// IndexesDeleted are the follower indexes that were still restoring from the leader: the
	// plugin's _stop deletes such an index, so the promoted service does not have them.
	IndexesDeleted []string `json:"indexes_deleted,omitempty"`
	// Problems are what the promotion could not do (an index that could not be stopped, the
	// remote connection left in place): they need an operator.
	Problems []Problem `json:"problems,omitempty"`
}

// FollowSpec makes a new service the follower of a leader.
type FollowSpec struct {
	Leader activities.ClusterRef `json:"leader"`
}

// ServiceInput starts a service workflow. State is set only when the workflow continues as new,
// to carry what it knows into the next run.
type ServiceInput struct {
	Spec   activities.ServiceSpec `json:"spec"`
	Follow *FollowSpec            `json:"follow,omitempty"`
	State  *ServiceState          `json:"state,omitempty"`
}

// ServiceWorkflow holds one service for its whole life:
//
//  1. PROVISIONING: the backend makes the cluster exist and answer (local: real nodes on the
//     worker's machine; static: an existing cluster is checked and attached); a failure leaves
//     the service FAILED with the reason, still deletable;
//  2. a follower then registers with its leader (which becomes a leader) and starts its
//     integration workflow; the integration's progress signals move it through REBUILDING to
//     RUNNING, or FAILED with the reason;
//  3. RUNNING: it answers the service query and keeps its leader's follower list;
//  4. delete (an update, so the caller learns at once whether it is allowed; refused while the
//     service leads followers): DELETING; a follower stops its integration (cancelling it when
//     it does not stop within integrationStopTimeout) and leaves its leader's list; the backend
//     removes what osccr runs; the workflow ends.
//
// Updates change a RUNNING service meanwhile: recycle-node and promote (above their handlers);
// follow makes a standalone service without user indexes a follower, which then takes step 2's
// path (service_follow.go); plan moves a service, its followers first, to another plan
// (service_plan.go).
//
// It continues as new when Temporal suggests it, so its history stays bounded however long
// the service lives.
func ServiceWorkflow(ctx workflow.Context, in ServiceInput) (ServiceState, error) {
	s := newService(ctx, in)
	if err := s.register(ctx); err != nil {
		return s.st, err
	}
	if s.st.State == StateProvisioning { // step 1, on the first run only
		if err := s.provision(ctx); err != nil {
			return s.st, err
		}
	}
	if err := s.serve(ctx); err != nil { // steps 2-3, until deleted
		return s.st, err // continue-as-new
	}
	return s.st, s.delete(ctx) // step 4
}

// startFollowing registers a freshly provisioned follower with its leader and starts its
// integration workflow, which outlives this run (continue-as-new) and reports by signal.
func startFollowing(ctx workflow.Context, st *ServiceState, set func(string, string) error) error {
	if err := workflow.SignalExternalWorkflow(ctx, ServiceWorkflowID(st.Leader), "", SignalAddFollower, st.Name).Get(ctx, nil); err != nil {
		return set(StateFailed, fmt.Sprintf("leader %s is gone: %s", st.Leader, failureReason(err)))
	}
	st.Replication = &IntegrationProgress{State: StateConnecting}
	if err := set(StateRebuilding, "connecting to leader "+st.Leader); err != nil {
		return err
	}
	child := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        IntegrationWorkflowID(st.Leader, st.Name),
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	in := IntegrationInput{
		Leader:      st.Follow.Leader,
		Follower:    st.ClusterRef(),
		LeaderAlias: st.Leader,
		ParentID:    ServiceWorkflowID(st.Name),
	}
	return workflow.ExecuteChildWorkflow(child, IntegrationWorkflow, in).GetChildWorkflowExecution().Get(ctx, nil)
}

// onIntegrationProgress maps the integration's state onto the follower's.
func onIntegrationProgress(ctx workflow.Context, st *ServiceState, p IntegrationProgress, set func(string, string) error, deleting bool) {
	st.Replication = &p
	if deleting {
		return
	}
	switch p.State {
	case StateConnecting:
		_ = set(StateRebuilding, "connecting to leader "+st.Leader)
	case StateRebuilding:
		_ = set(StateRebuilding, fmt.Sprintf("%d of %d indexes syncing", p.Syncing, p.Total))
	case StateRunning:
		if st.RunningAt.IsZero() {
			st.RunningAt = workflow.Now(ctx)
		}
		_ = set(StateRunning, p.Reason) // "" unless some index needs attention
	case StatePaused:
		_ = set(StatePaused, p.Reason)
	case StateFailed:
		_ = set(StateFailed, p.Reason)
	}
}

// integrationStopTimeout bounds how long deleting a follower waits for its integration to
// stop replicating: an integration that cannot reach the follower retries for a long time, and
// deleting the follower must not hang on it.
const integrationStopTimeout = 3 * time.Minute

// stopFollowing stops the integration, waits (at most integrationStopTimeout) for it to report
// STOPPED, and leaves the leader's list of followers. An integration that does not stop in
// time is cancelled, and one that is not running is not waited for: deleting goes on either
// way, and the returned note says what happened ("" when the integration stopped cleanly).
func stopFollowing(ctx workflow.Context, st *ServiceState, progress workflow.ReceiveChannel) string {
	id := IntegrationWorkflowID(st.Leader, st.Name)
	note := ""
	if err := workflow.SignalExternalWorkflow(ctx, id, "", SignalStopIntegration, nil).Get(ctx, nil); err != nil {
		note = fmt.Sprintf("integration %s was not running (%s): replication was not stopped", id, failureReason(err))
	} else {
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		timeout := workflow.NewTimer(timerCtx, integrationStopTimeout)
		timedOut := false
		for st.Replication.State != StateStopped && !timedOut {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(progress, func(c workflow.ReceiveChannel, _ bool) {
				var p IntegrationProgress
				c.Receive(ctx, &p)
				st.Replication = &p
			})
			sel.AddFuture(timeout, func(workflow.Future) { timedOut = true })
			sel.Select(ctx)
		}
		cancelTimer()
		if timedOut {
			err := workflow.RequestCancelExternalWorkflow(ctx, id, "").Get(ctx, nil)
			note = fmt.Sprintf("integration %s did not stop within %s (it was %s): cancelled", id, integrationStopTimeout, st.Replication.State)
			if err != nil {
				note += " (" + failureReason(err) + ")"
			}
			note += "; follower indexes it had started may still be replicating"
		}
	}
	if note != "" {
		workflow.GetLogger(ctx).Warn("deleting follower without a clean stop", "service", st.Name, "note", note)
		st.Replication.Reason = note
	}
	// A leader that is gone has no list to leave.
	_ = workflow.SignalExternalWorkflow(ctx, ServiceWorkflowID(st.Leader), "", SignalRemoveFollower, st.Name).Get(ctx, nil)
	return note
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

// recycleNode restarts one node of the service. Replication is paused first on every follower
// the restart affects (the service itself if it is a follower, its followers if it leads any)
// and resumed once the service is healthy again; the leader keeps every operation meanwhile,
// so nothing is lost.
func recycleNode(ctx workflow.Context, st *ServiceState, node string) error {
	var a *activities.Activities
	reason := fmt.Sprintf("node %q of %s is being recycled", node, st.Name)
	err := withReplicationPaused(ctx, st, reason, func() error {
		return workflow.ExecuteActivity(onMachine(withIO(ctx, 10*time.Minute, activities.LifecycleHeartbeatTimeout), st.ServiceSpec), a.RecycleServiceNode, activities.RecycleInput{Spec: st.ServiceSpec, Node: node}).Get(ctx, nil)
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
func withReplicationPaused(ctx workflow.Context, st *ServiceState, reason string, restart func() error) error {
	var affected []string
	if st.Role == RoleFollower {
		affected = append(affected, IntegrationWorkflowID(st.Leader, st.Name))
	}
	for _, f := range st.Followers {
		affected = append(affected, IntegrationWorkflowID(st.Name, f))
	}
	pause := PauseRequest{Source: RecyclePauseSource(st.Name), Reason: reason}
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
			workflow.GetLogger(ctx).Warn("restarting with a pause not confirmed", "service", st.Name, "note", note)
			reason += "; " + note
		}
	}
	st.Reason = reason
	err := restart()
	if st.Reason == reason {
		st.Reason = ""
	}
	for _, id := range affected {
		_ = workflow.SignalExternalWorkflow(ctx, id, "", SignalResumeIntegration, PauseRequest{Source: pause.Source}).Get(ctx, nil)
	}
	return err
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
func promoteFollower(ctx workflow.Context, st *ServiceState, set func(string, string) error) (PromotionReport, error) {
	began := workflow.Now(ctx)
	report := PromotionReport{FormerLeader: st.Leader}
	wasState := st.State
	abandon := func(cause string) (PromotionReport, error) {
		err := fmt.Errorf("promotion of %s failed: %s; it is still a follower of %s: promote again to retry", st.Name, cause, st.Leader)
		if serr := set(wasState, err.Error()); serr != nil {
			return report, serr
		}
		return report, temporal.NewApplicationError(err.Error(), "PromotionFailed")
	}
	if err := set(StatePromoting, "promoting to standalone"); err != nil {
		return report, err
	}
	if st.Replication != nil && st.Replication.State != StateStopped {
		id := IntegrationWorkflowID(st.Leader, st.Name)
		if err := workflow.SignalExternalWorkflow(ctx, id, "", SignalStopIntegration, nil).Get(ctx, nil); err != nil {
			return abandon(fmt.Sprintf("integration %s could not be told to stop (%s)", id, failureReason(err)))
		}
		stopped, err := workflow.AwaitWithTimeout(ctx, promotionStopTimeout, func() bool { return st.Replication.State == StateStopped })
		if err != nil {
			return report, err
		}
		if !stopped {
			return abandon(fmt.Sprintf("integration %s did not report STOPPED within %s (it was %s); some follower indexes may still be replicating",
				id, promotionStopTimeout, st.Replication.State))
		}
	}
	note := ""
	if r := st.Replication; r != nil {
		report.IndexesStopped, report.LagOps = r.Stopped, r.LagOps
		report.IndexesDeleted, report.Problems = slices.Clone(r.DeletedRestoring), slices.Clone(r.Problems)
		if len(r.Problems) > 0 || len(r.DeletedRestoring) > 0 {
			note = r.Reason
		}
	}
	return becomeStandalone(ctx, st, report, began, note, set)
}

// becomeStandalone is the end of a promotion, once replication has stopped: the leader drops
// the service from its followers, the service is standalone and RUNNING with the report (and
// note as its reason).
func becomeStandalone(ctx workflow.Context, st *ServiceState, report PromotionReport, began time.Time, note string, set func(string, string) error) (PromotionReport, error) {
	// A leader that is gone has no list to leave.
	_ = workflow.SignalExternalWorkflow(ctx, ServiceWorkflowID(st.Leader), "", SignalRemoveFollower, st.Name).Get(ctx, nil)
	st.Role, st.Leader, st.Follow = RoleStandalone, "", nil
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchRole.ValueSet(RoleStandalone), SearchLeader.ValueUnset()); err != nil {
		return report, err
	}
	report.PromotedAt = workflow.Now(ctx)
	report.Duration = report.PromotedAt.Sub(began)
	st.Promotion = &report
	if st.RunningAt.IsZero() {
		st.RunningAt = report.PromotedAt
	}
	return report, set(StateRunning, note)
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

// canRecycle is the recycle-node update's validator.
func canRecycle(st ServiceState, deleting, recycling bool) error {
	switch {
	case st.Backend != activities.BackendLocal:
		return fmt.Errorf("service %s is a registered cluster: osccr cannot restart nodes it does not run; restart the node yourself", st.Name)
	case deleting || st.State == StateDeleting:
		return fmt.Errorf("service %s is being deleted", st.Name)
	case recycling:
		return fmt.Errorf("a node of service %s is already being recycled", st.Name)
	case st.State == StateProvisioning:
		return fmt.Errorf("service %s is still PROVISIONING", st.Name)
	}
	return nil
}

// setRole makes a service with followers a leader and one without them standalone again.
func setRole(ctx workflow.Context, st *ServiceState) {
	if st.Role == RoleFollower {
		return
	}
	st.Role = RoleStandalone
	if len(st.Followers) > 0 {
		st.Role = RoleLeader
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, SearchRole.ValueSet(st.Role))
}

// canDelete is the delete update's validator: a rejected request is not written to history
// and changes nothing.
func canDelete(st ServiceState, deleting bool) error {
	switch {
	case deleting || st.State == StateDeleting:
		return fmt.Errorf("service %s is already being deleted", st.Name)
	case len(st.Followers) > 0:
		return fmt.Errorf("service %s is the leader of %v: delete or promote its followers first", st.Name, st.Followers)
	}
	return nil
}

// failureReason is the operator-facing reason of a failed step: the application error's own
// message, without the SDK's wrapping.
func failureReason(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}
