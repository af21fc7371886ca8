package control

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/provision"
	"github.com/osccr/osccr/internal/rules"
	"github.com/osccr/osccr/workflows"
)

// IntegrationTypeCCR is the one integration type osccr offers: the managed offerings' name for
// a whole-cluster cross-cluster replication from a source (leader) to a dest (follower) service.
const IntegrationTypeCCR = "opensearch_cross_cluster_replication"

// Integration is a replication integration between two services, as the integration commands and
// endpoints show it. Every follower has one, however it was made (follower create or
// integration create).
type Integration struct {
	// ID is IntegrationID(Source, Dest).
	ID     string `json:"integration_id"`
	Type   string `json:"integration_type"`
	Source string `json:"source_service"`
	Dest   string `json:"dest_service"`
	// State is the dest (follower) service's state: REBUILDING, RUNNING, PAUSED, FAILED, ...
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// WorkflowID is the integration's workflow, to find it in the Temporal Web UI.
	WorkflowID string `json:"workflow_id"`
}

// integrationIDPrefix starts every CCR integration ID.
const integrationIDPrefix = "ccr."

// IntegrationID is the ID of the CCR integration from leader to follower: "ccr.<leader>.<follower>",
// e.g. "ccr.orders.orders-eu". Service names hold only lowercase letters, digits and hyphens,
// so the ID is stable (the same two services always give the same ID), URL-safe (no escaping
// in a path) and unambiguous (ParseIntegrationID splits it back).
func IntegrationID(leader, follower string) string {
	return integrationIDPrefix + leader + "." + follower
}

// ParseIntegrationID returns the leader and follower an integration ID names; a malformed ID is
// ErrInvalid.
func ParseIntegrationID(id string) (leader, follower string, err error) {
	rest, ok := strings.CutPrefix(id, integrationIDPrefix)
	parts := strings.Split(rest, ".")
	if !ok || len(parts) != 2 || provision.ValidateServiceName(parts[0]) != nil || provision.ValidateServiceName(parts[1]) != nil {
		return "", "", fmt.Errorf("%w: integration ID %q is not of the form ccr.<source>.<dest> (e.g. ccr.orders.orders-eu); osccr integration list shows them", ErrInvalid, id)
	}
	return parts[0], parts[1], nil
}

func integrationOf(follower workflows.ServiceState) Integration {
	return Integration{ID: IntegrationID(follower.Leader, follower.Name), Type: IntegrationTypeCCR, Source: follower.Leader, Dest: follower.Name,
		State: follower.State, Reason: follower.Reason, WorkflowID: workflows.IntegrationWorkflowID(follower.Leader, follower.Name)}
}

// CreateIntegrationRequest asks for an integration between two existing services.
type CreateIntegrationRequest struct {
	Type   string
	Source string
	Dest   string
}

// CreateIntegration makes an existing service (dest) the follower of another (source): the
// dest registers with the source and replicates the whole source cluster, as a created follower
// does. It is refused with nothing changed, with ErrInvalid, ErrNotFound or ErrConflict, when:
//
//   - the type is not IntegrationTypeCCR, a name is invalid, or source and dest are the same;
//   - either service is unknown;
//   - the source is itself a follower or is not RUNNING;
//   - the plans break the follower rules (plan.CheckFollowerPlan: same plan, business or premium);
//   - (the dest's service workflow decides:) the dest is not a RUNNING standalone service: it is
//     a follower, leads followers, or was ever promoted; or it holds user indexes (listed).
func (c *Control) CreateIntegration(ctx context.Context, req CreateIntegrationRequest) (Integration, error) {
	leader, dest, err := c.integrationPair(ctx, req)
	if err != nil {
		return Integration{}, err
	}
	// The clusters themselves: a replication they cannot carry is refused before the dest
	// changes, each failed check with its fix.
	report, err := c.Preflight(ctx, leader, dest)
	if err != nil {
		return Integration{}, err
	}
	if !report.OK {
		return Integration{}, fmt.Errorf("%w: %s cannot follow %s:\n  - %s", ErrConflict, dest.Name, leader.Name, strings.Join(report.Failed(), "\n  - "))
	}
	follow := workflows.FollowRequest{
		Leader:     leader.ClusterRef(),
		LeaderPlan: leader.Plan,
	}
	var st workflows.ServiceState
	if err := c.updateService(ctx, req.Dest, "integration create for", workflows.UpdateFollow, true, &st, follow); err != nil {
		return Integration{}, err
	}
	return integrationOf(st), nil
}

// PreviewIntegration is CreateIntegration's dry run: the same refusals, then the preflight's
// report on the real clusters, every check with what it found; it changes nothing.
func (c *Control) PreviewIntegration(ctx context.Context, req CreateIntegrationRequest) (contract.PreflightReport, error) {
	leader, dest, err := c.integrationPair(ctx, req)
	if err != nil {
		return contract.PreflightReport{}, err
	}
	return c.Preflight(ctx, leader, dest)
}

// integrationPair applies CreateIntegration's rules that need only osccr's own state, and
// returns the source and dest services.
func (c *Control) integrationPair(ctx context.Context, req CreateIntegrationRequest) (leader, dest workflows.ServiceState, err error) {
	if req.Type != IntegrationTypeCCR {
		what := fmt.Sprintf("integration type %q is not supported", req.Type)
		if req.Type == "" {
			what = "no integration type given"
		}
		return leader, dest, fmt.Errorf("%w: %s: osccr supports %q (cross-cluster replication from the source service to the dest service)", ErrInvalid, what, IntegrationTypeCCR)
	}
	var problems []error
	for _, name := range []string{req.Source, req.Dest} {
		if err := provision.ValidateServiceName(name); err != nil {
			problems = append(problems, err)
		}
	}
	if len(problems) > 0 {
		return leader, dest, fmt.Errorf("%w: %w", ErrInvalid, errors.Join(problems...))
	}
	if err := rules.NotSelf(req.Source, req.Dest); err != nil {
		return leader, dest, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	leader, err = c.GetService(ctx, req.Source)
	if errors.Is(err, ErrNotFound) {
		return leader, dest, fmt.Errorf("%w: source service %s is unknown (osccr service list shows the services)", ErrNotFound, req.Source)
	}
	if err != nil {
		return leader, dest, err
	}
	dest, err = c.GetService(ctx, req.Dest)
	if errors.Is(err, ErrNotFound) {
		return leader, dest, fmt.Errorf("%w: dest service %s is unknown: create or register it first (osccr service create|register)", ErrNotFound, req.Dest)
	}
	if err != nil {
		return leader, dest, err
	}
	if err := checkLeader(leader); err != nil {
		return leader, dest, err
	}
	if _, _, err := followerPlans(leader, dest.Plan); err != nil {
		return leader, dest, fmt.Errorf("%w; change the plan of %s first (osccr service update %s --plan %s)", err, dest.Name, dest.Name, leader.Plan)
	}
	return leader, dest, nil
}

// checkLeader applies the rules a leader must meet to get a follower (rules.CanLead).
func checkLeader(leader workflows.ServiceState) error {
	if err := rules.CanLead(leader.RuleView()); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// ListIntegrations lists integrations: every one when service is "", else those the service
// takes part in (as source or dest). Sorted by ID.
func (c *Control) ListIntegrations(ctx context.Context, service string) ([]Integration, error) {
	out := []Integration{}
	if service == "" {
		followers, err := c.ListServices(ctx, workflows.RoleFollower)
		if err != nil {
			return nil, err
		}
		for _, f := range followers {
			out = append(out, Integration{ID: IntegrationID(f.Leader, f.Name), Type: IntegrationTypeCCR, Source: f.Leader, Dest: f.Name, State: f.State,
				WorkflowID: workflows.IntegrationWorkflowID(f.Leader, f.Name)})
		}
		return out, nil
	}
	st, err := c.GetService(ctx, service)
	if err != nil {
		return nil, err
	}
	if st.Role == workflows.RoleFollower {
		out = append(out, integrationOf(st))
	}
	if len(st.Followers) > 0 {
		followers, err := c.ListFollowers(ctx, service)
		if err != nil {
			return nil, err
		}
		for _, f := range followers {
			out = append(out, Integration{ID: IntegrationID(service, f.Name), Type: IntegrationTypeCCR, Source: service, Dest: f.Name, State: f.State,
				WorkflowID: workflows.IntegrationWorkflowID(service, f.Name)})
		}
	}
	return out, nil
}

// GetIntegration returns one integration by ID; ErrNotFound when its dest does not follow its
// source (any more).
func (c *Control) GetIntegration(ctx context.Context, id string) (Integration, error) {
	leader, follower, err := ParseIntegrationID(id)
	if err != nil {
		return Integration{}, err
	}
	st, err := c.GetService(ctx, follower)
	if errors.Is(err, ErrNotFound) {
		return Integration{}, fmt.Errorf("%w: no integration %s: service %s is unknown (osccr integration list shows the integrations)", ErrNotFound, id, follower)
	}
	if err != nil {
		return Integration{}, err
	}
	if st.Role != workflows.RoleFollower || st.Leader != leader {
		return Integration{}, fmt.Errorf("%w: no integration %s: service %s does not follow %s (osccr integration list shows the integrations)", ErrNotFound, id, follower, leader)
	}
	return integrationOf(st), nil
}

// DeleteIntegration ends a CCR integration the way the managed offerings do: by promoting its
// follower (Promote), which stays as a standalone, writable service. It returns once the
// promotion is done, with its report. An unknown integration, or one whose follower was already
// promoted or deleted, is ErrNotFound (so a second delete of the same integration is). A
// follower that cannot be promoted now (PROVISIONING, being deleted) is ErrConflict with the
// reason. A promotion still under way after DeleteWait is ErrInProgress: the promotion goes on,
// and asking again waits for the same promotion (promoting is idempotent).
func (c *Control) DeleteIntegration(ctx context.Context, id string) (workflows.PromotionReport, error) {
	in, err := c.GetIntegration(ctx, id)
	if err != nil {
		return workflows.PromotionReport{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, c.deleteWait())
	defer cancel()
	report, err := c.Promote(wctx, in.Dest)
	if err != nil && wctx.Err() != nil && ctx.Err() == nil {
		state := "PROMOTING"
		if st, gerr := c.GetService(ctx, in.Dest); gerr == nil {
			state = st.State + " (" + st.Reason + ")"
		}
		return report, fmt.Errorf("%w: delete integration %s: the promotion of its follower %s is still under way after %s (it is %s); ask again: the same delete waits for the same promotion",
			ErrInProgress, in.ID, in.Dest, c.deleteWait(), state)
	}
	if err != nil {
		return report, fmt.Errorf("delete integration %s (which promotes its follower %s): %w", in.ID, in.Dest, err)
	}
	return report, nil
}
