package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
)

// Service states, in the vocabulary operators see (the seeds' and the managed offerings').
const (
	StateProvisioning = "PROVISIONING"
	StateDeleting     = "DELETING"
	StateFailed       = "FAILED"
	// StateRunning, StatePaused and StateRebuilding are shared with replication.
)

// Service roles.
const (
	RoleStandalone = "standalone"
	RoleLeader     = "leader"
	RoleFollower   = "follower"
)

// Queries and updates of ServiceWorkflow.
const (
	QueryService  = "service"
	UpdateDelete  = "delete"
	serviceIDPart = "service/"
)

// ServiceWorkflowID is the ID of the workflow that holds a service: one per service name.
func ServiceWorkflowID(name string) string { return serviceIDPart + name }

// ServiceState is everything osccr knows about a service; the service query returns it.
type ServiceState struct {
	activities.ServiceSpec
	Role      string                      `json:"role"`
	Leader    string                      `json:"leader"`
	Followers []string                    `json:"followers"`
	State     string                      `json:"state"`
	Reason    string                      `json:"reason,omitempty"`
	Endpoints activities.ServiceEndpoints `json:"endpoints"`
	CreatedAt time.Time                   `json:"created_at"`
	RunningAt time.Time                   `json:"running_at,omitempty"`
}

// ServiceInput starts a service workflow. State is set only when the workflow continues as new,
// to carry what it knows into the next run.
type ServiceInput struct {
	Spec  activities.ServiceSpec `json:"spec"`
	State *ServiceState          `json:"state,omitempty"`
}

// ServiceWorkflow holds one service for its whole life:
//
//  1. PROVISIONING: the backend makes the cluster exist and answer (local: real nodes on the
//     worker's machine; static: an existing cluster is checked and attached);
//  2. RUNNING: the service answers the service query and waits for requests; a failed
//     provisioning leaves it FAILED with the reason, still deletable;
//  3. delete (an update, so the caller learns at once whether it is allowed): DELETING, the
//     backend removes what osccr runs, and the workflow ends.
//
// It continues as new when Temporal suggests it, so its history stays bounded however long
// the service lives.
func ServiceWorkflow(ctx workflow.Context, in ServiceInput) (ServiceState, error) {
	var st ServiceState
	if in.State != nil {
		st = *in.State
	} else {
		st = ServiceState{ServiceSpec: in.Spec, Role: RoleStandalone, Followers: []string{}, State: StateProvisioning, CreatedAt: workflow.Now(ctx)}
	}
	set := func(state, reason string) error {
		st.State, st.Reason = state, reason
		return workflow.UpsertTypedSearchAttributes(ctx, SearchState.ValueSet(state))
	}
	if err := workflow.SetQueryHandler(ctx, QueryService, func() (ServiceState, error) { return st, nil }); err != nil {
		return st, err
	}
	deleting := false
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateDelete,
		func(ctx workflow.Context) (ServiceState, error) {
			deleting = true
			return st, set(StateDeleting, "deletion requested")
		},
		workflow.UpdateHandlerOptions{Validator: func() error { return canDelete(st, deleting) }},
	); err != nil {
		return st, err
	}
	var a *activities.Activities

	// Step 1: provision (on the first run only).
	if st.State == StateProvisioning {
		pctx := withIO(ctx, 15*time.Minute, 0)
		if err := workflow.ExecuteActivity(pctx, a.ProvisionService, st.ServiceSpec).Get(ctx, &st.Endpoints); err != nil {
			if serr := set(StateFailed, failureReason(err)); serr != nil {
				return st, serr
			}
		} else {
			st.RunningAt = workflow.Now(ctx)
			if err := set(StateRunning, ""); err != nil {
				return st, err
			}
		}
	}

	// Step 2: serve until deleted, continuing as new when the history grows long.
	if err := workflow.Await(ctx, func() bool {
		return deleting || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
	}); err != nil {
		return st, err
	}
	if !deleting {
		if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
			return st, err
		}
		return st, workflow.NewContinueAsNewError(ctx, ServiceWorkflow, ServiceInput{Spec: st.ServiceSpec, State: &st})
	}

	// Step 3: delete.
	dctx := withIO(ctx, 5*time.Minute, 0)
	if err := workflow.ExecuteActivity(dctx, a.DeprovisionService, st.ServiceSpec).Get(ctx, nil); err != nil {
		return st, err
	}
	st.Reason = "deleted"
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return st, err
	}
	return st, nil
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
