package workflows

// The service workflow's contract: its states, roles, queries, updates and signals, its input
// and state, and the workflow itself as the steps of a service's life. Each request it serves
// has a file of its own: service_provision.go, service_follow.go, service_plan.go,
// service_recycle.go, service_promote.go, service_delete.go; service_run.go is the run (its
// state struct, the phases, the handlers' registration and the main loop).

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/lag"
	"github.com/osccr/osccr/internal/rules"
)

// Service states, in the vocabulary operators see (the seeds' and the managed offerings').
const (
	StateProvisioning = rules.StateProvisioning
	StateDeleting     = rules.StateDeleting
	StateFailed       = "FAILED"
	StatePromoting    = "PROMOTING"
	// StateUnhealthy: the service's cluster does not answer, or is red (Health says which and
	// since when); nothing osccr can do about it now (a registered cluster, or a repair that
	// failed and waits to be tried again). StateRepairing: it is down and osccr is starting its
	// dead nodes again. A service in either is never RUNNING: it returns to the state it would
	// have (RUNNING, or a follower's replication state) once its cluster answers green or yellow.
	StateUnhealthy = "UNHEALTHY"
	StateRepairing = "REPAIRING"
	// StateRunning, StatePaused and StateRebuilding are shared with replication.
)

// Service roles.
const (
	RoleStandalone = rules.RoleStandalone
	RoleLeader     = rules.RoleLeader
	RoleFollower   = rules.RoleFollower
)

// Queries, updates and signals of ServiceWorkflow.
const (
	QueryService = "service"
	UpdateDelete = "delete"
	// UpdateForceDelete ends a service whose machine or cluster is gone (serviceVersion 3): its
	// deprovision is bounded, and its failure does not keep the service.
	UpdateForceDelete = "force-delete"
	// UpdatePromote and SignalPromote make a follower a standalone, writable service, for good.
	// The update answers with a PromotionReport; the signal is for callers that want no answer.
	UpdatePromote = "promote"
	SignalPromote = "promote"
	// UpdateRecycleNode restarts a node of the service (its argument: the node name, "" for the
	// first), pausing replication on the affected followers meanwhile.
	UpdateRecycleNode = "recycle-node"
	// UpdateTerminationProtection turns the service's termination protection on or off (its
	// argument: a bool) and answers the ServiceState; from serviceVersion 1.
	UpdateTerminationProtection = "termination-protection"
	serviceIDPart               = "service/"
	// SignalAddFollower and SignalRemoveFollower keep a leader's list of followers.
	SignalAddFollower    = "add-follower"
	SignalRemoveFollower = "remove-follower"
)

// ServiceWorkflowID is the ID of the workflow that holds a service: one per service name.
func ServiceWorkflowID(name string) string { return serviceIDPart + name }

// ServiceState is everything osccr knows about a service; the service query returns it.
type ServiceState struct {
	contract.ServiceSpec
	Role        string                    `json:"role"`
	Leader      string                    `json:"leader"`
	Followers   []string                  `json:"followers"`
	State       string                    `json:"state"`
	Reason      string                    `json:"reason,omitempty"`
	Endpoints   contract.ServiceEndpoints `json:"endpoints"`
	CreatedAt   time.Time                 `json:"created_at"`
	RunningAt   time.Time                 `json:"running_at,omitempty"`
	Follow      *FollowSpec               `json:"follow,omitempty"`
	Replication *IntegrationProgress      `json:"replication,omitempty"`
	// Promotion is set once the service was promoted from follower to standalone: it can
	// never be a follower again.
	Promotion *PromotionReport `json:"promotion,omitempty"`
	// Lag is a follower's lag in seconds as its leader watch last reported it. The workflow
	// never sets it: the application layer fills it in when it shows a service.
	Lag *lag.Follower `json:"lag,omitempty"`
	// Health is the service's cluster health as its health watch last reported it (nil before
	// the first report, and in runs older than health watching).
	Health *contract.ClusterHealth `json:"health,omitempty"`
	// Repair is the last repair of the service's nodes osccr made.
	Repair *RepairRecord `json:"repair,omitempty"`
	// PlanTarget is the plan a plan change under way moves the service to ("" when none): a
	// leader's from the moment it takes the change (its followers change first), a follower's
	// while it applies its leader's. From serviceVersion 4.
	PlanTarget string `json:"plan_target,omitempty"`
}

// RepairRecord says what the last repair did, and when.
type RepairRecord struct {
	At        time.Time `json:"at"`
	Restarted []string  `json:"restarted,omitempty"`
	Moved     []string  `json:"moved,omitempty"`
	// Error is why it failed ("" when it did not).
	Error string `json:"error,omitempty"`
}

// ClusterRef is how activities reach the service's cluster: with the spec's references (a
// static service's), else those its backend made when it provisioned it (a secured local
// service's CA and password files).
func (st ServiceState) ClusterRef() contract.ClusterRef {
	auth := st.ClusterAuth
	if auth == (contract.ClusterAuth{}) {
		auth = st.Endpoints.Auth
	}
	return contract.ClusterRef{Name: st.Name, URL: st.Endpoints.HTTPURL, TransportAddress: st.Endpoints.TransportAddress, ClusterAuth: auth}
}

// RuleView is what the rulebook (internal/rules) reads of the service.
func (st ServiceState) RuleView() rules.Service {
	v := rules.Service{Name: st.Name, Role: st.Role, State: st.State, Plan: st.Plan, Leader: st.Leader, Followers: st.Followers,
		Local: st.Backend == contract.BackendLocal}
	if p := st.Promotion; p != nil {
		v.Promoted = &rules.Promotion{FormerLeader: p.FormerLeader, At: p.PromotedAt}
	}
	return v
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
	// Loss is what the promoted service lacks of its former leader, per index and in total, as
	// last known when replication stopped (loss.go). Set from version 2 of the service
	// workflow; for a promotion of an earlier version the application layer adds it to the
	// answer (control.Promote), from the statuses in the integration's history.
	Loss *PromotionLoss `json:"loss,omitempty"`
}

// FollowSpec makes a new service the follower of a leader.
type FollowSpec struct {
	Leader contract.ClusterRef `json:"leader"`
}

// ServiceInput starts a service workflow. State is set only when the workflow continues as new,
// to carry what it knows into the next run.
type ServiceInput struct {
	Spec   contract.ServiceSpec `json:"spec"`
	Follow *FollowSpec          `json:"follow,omitempty"`
	State  *ServiceState        `json:"state,omitempty"`
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
	for {
		if err := s.serve(ctx); err != nil { // steps 2-3, until deleted
			return s.st, err // continue-as-new
		}
		retry, err := s.delete(ctx) // step 4
		if !retry {
			return s.st, err
		}
	}
}

// failureReason is the operator-facing reason of a failed step: the application error's own
// message, without the SDK's wrapping.
func failureReason(err error) string {
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) && timeout.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START {
		return fmt.Sprintf("no worker took the work from the machine's task queue within %s: is osccr-worker running on that machine? (%v)", MachineQueueBound, err)
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

// firstError returns the first error that is not nil.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// TerminationProtected is the refusal of a delete of a service under termination protection
// (rules.TerminationProtected).
func TerminationProtected(name string) error { return rules.TerminationProtected(name) }
