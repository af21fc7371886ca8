package control

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/lag"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/plan"
	"github.com/osccr/osccr/internal/provision"
	"github.com/osccr/osccr/internal/rules"
	"github.com/osccr/osccr/workflows"
)

// CreateServiceRequest asks for a new service on the local backend.
type CreateServiceRequest struct {
	Name        string
	Plan        string
	Cloud       string
	Region      string
	ExtraDiskGB int
	// Machine pins the service's nodes to the machine of that name (a worker started with
	// --machine); "" lets the first free worker that runs local services take it.
	Machine string
	// Security is SecurityNone for a plain-HTTP service; "" or contract.SecurityPlugin (the
	// default) secures it with the security plugin.
	Security string
	// TerminationProtection refuses the service's deletion while it is on.
	TerminationProtection bool
}

// SecurityNone asks for a plain-HTTP local service without users: the opt-out of the default.
const SecurityNone = contract.SecurityNone

// securityMode resolves a requested security mode: secured unless "none" is asked for
// (rules.SecurityMode).
func securityMode(asked string) (string, error) { return rules.SecurityMode(asked) }

// RegisterServiceRequest attaches an existing cluster as a service (the static backend).
type RegisterServiceRequest struct {
	Name             string
	URL              string
	TransportAddress string
	Plan             string
	Cloud            string
	Region           string
	// Auth says how the worker authenticates to the cluster and trusts it: by reference only
	// (files and environment variables on the worker's machine).
	Auth contract.ClusterAuth
	// TerminationProtection refuses the service's deletion while it is on.
	TerminationProtection bool
}

// ServiceSummary is one row of a service listing, read from Temporal's visibility store.
type ServiceSummary struct {
	Name   string `json:"name"`
	Plan   string `json:"plan"`
	Role   string `json:"role"`
	State  string `json:"state"`
	Leader string `json:"leader,omitempty"`
}

// MaxExtraDiskGB is the most extra disk a service may add on top of its plan's, in GB.
const MaxExtraDiskGB = rules.MaxExtraDiskGB

// CreateService starts provisioning a service on the local backend. It refuses, with
// ErrInvalid or ErrConflict and nothing created, an invalid name, an unknown plan, extra disk
// that is negative or more than MaxExtraDiskGB, or a name already in use.
func (c *Control) CreateService(ctx context.Context, req CreateServiceRequest) error {
	spec := contract.ServiceSpec{Name: req.Name, Plan: req.Plan, Cloud: orDefault(req.Cloud, "local"), Region: orDefault(req.Region, "local"), ExtraDiskGB: req.ExtraDiskGB, Backend: contract.BackendLocal, Machine: req.Machine,
		TerminationProtection: req.TerminationProtection}
	var problems []error
	mode, err := securityMode(req.Security)
	if err != nil {
		problems = append(problems, err)
	}
	spec.Security = mode
	if err := checkExtraDisk(req.ExtraDiskGB); err != nil {
		problems = append(problems, err)
	}
	if req.Machine != "" {
		if err := c.checkMachine(ctx, req.Machine); err != nil {
			problems = append(problems, err)
		}
	}
	return c.startService(ctx, spec, problems)
}

// checkMachine refuses a machine name that no worker answers for: a service placed there would
// wait for one forever.
func (c *Control) checkMachine(ctx context.Context, machine string) error {
	if strings.TrimSpace(machine) != machine || strings.ContainsAny(machine, "/\\") {
		return fmt.Errorf("machine %q: a machine name has no spaces at its ends and no slashes", machine)
	}
	queue := workflows.MachineTaskQueue(machine)
	resp, err := c.Temporal.DescribeTaskQueue(ctx, queue, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
	if err != nil {
		return fmt.Errorf("machine %q: cannot ask Temporal who polls task queue %s: %w", machine, queue, err)
	}
	if len(resp.GetPollers()) == 0 {
		return fmt.Errorf("machine %q: no worker polls its task queue %s; start one there with `osccr-worker --machine %s`, or leave --machine out", machine, queue, machine)
	}
	return nil
}

// checkExtraDisk refuses extra disk that is negative or more than MaxExtraDiskGB
// (rules.CheckExtraDisk).
func checkExtraDisk(gb int) error { return rules.CheckExtraDisk(gb) }

// RegisterService attaches an existing cluster as a service. The URL and transport address
// are checked for form here; the worker checks the cluster answers while provisioning.
func (c *Control) RegisterService(ctx context.Context, req RegisterServiceRequest) error {
	spec := contract.ServiceSpec{Name: req.Name, Plan: req.Plan, Cloud: orDefault(req.Cloud, "self-hosted"), Region: orDefault(req.Region, "self-hosted"),
		Backend: contract.BackendStatic, URL: req.URL, TransportAddress: req.TransportAddress, ClusterAuth: req.Auth,
		TerminationProtection: req.TerminationProtection}
	var problems []error
	if err := req.Auth.Check(req.URL); err != nil {
		problems = append(problems, err)
	}
	if _, err := opensearch.New(opensearch.Config{URLs: []string{req.URL}}); err != nil {
		problems = append(problems, fmt.Errorf("--url: %w", err))
	}
	if host, port, err := net.SplitHostPort(req.TransportAddress); err != nil || host == "" || port == "" {
		problems = append(problems, fmt.Errorf("transport address %q must be host:port (the cluster's transport port, 9300 by default)", req.TransportAddress))
	}
	if len(problems) == 0 && provision.ValidateServiceName(req.Name) == nil {
		if err := c.checkSecretRefs(ctx, req.Name, req.Auth); err != nil {
			return err
		}
	}
	return c.startService(ctx, spec, problems)
}

// checkSecretRefs asks a worker to apply its activities.SecretPolicy to the references (the
// worker alone knows which directories it trusts and can see the files): a reference it would
// refuse to read is refused here, with its rule, before any workflow of the service starts.
func (c *Control) checkSecretRefs(ctx context.Context, service string, auth contract.ClusterAuth) error {
	if auth.PasswordFile == "" && auth.PasswordEnv == "" && auth.ReplicationPasswordFile == "" && auth.ReplicationPasswordEnv == "" && auth.KeyFile == "" {
		return nil
	}
	run, err := c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.SecretRefsWorkflowID(service),
		TaskQueue:                c.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionTimeout: time.Minute,
	}, workflows.CheckSecretRefsWorkflow, auth)
	if err == nil {
		err = run.Get(ctx, nil)
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == contract.ErrTypeSecretRefused {
		return fmt.Errorf("%w: register %s: %s", ErrInvalid, service, app.Message())
	}
	if err != nil {
		return wrapTemporal("check the secret references of "+service, err)
	}
	return nil
}

func (c *Control) startService(ctx context.Context, spec contract.ServiceSpec, problems []error) error {
	if err := provision.ValidateServiceName(spec.Name); err != nil {
		problems = append(problems, err)
	}
	if _, err := plan.Default().Lookup(spec.Plan); err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(problems...))
	}
	return c.start(ctx, workflows.ServiceInput{Spec: spec}, workflows.RoleStandalone, "")
}

// start starts a service workflow with the search attributes listings use.
func (c *Control) start(ctx context.Context, in workflows.ServiceInput, role, leader string) error {
	spec := in.Spec
	attrs := []temporal.SearchAttributeUpdate{
		workflows.SearchService.ValueSet(spec.Name),
		workflows.SearchRole.ValueSet(role),
		workflows.SearchState.ValueSet(workflows.StateProvisioning),
		workflows.SearchPlan.ValueSet(spec.Plan),
	}
	if leader != "" {
		attrs = append(attrs, workflows.SearchLeader.ValueSet(leader))
	}
	_, err := c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       workflows.ServiceWorkflowID(spec.Name),
		TaskQueue:                                c.TaskQueue,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(attrs...),
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, workflows.ServiceWorkflow, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return fmt.Errorf("%w: service name %q is taken: choose another name or delete that service first", ErrConflict, spec.Name)
	}
	if err != nil {
		return wrapTemporal("create service "+spec.Name, err)
	}
	return nil
}

// GetService returns everything osccr knows about a live service.
func (c *Control) GetService(ctx context.Context, name string) (workflows.ServiceState, error) {
	var st workflows.ServiceState
	id := workflows.ServiceWorkflowID(name)
	desc, err := c.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return st, serviceNotFound(name, wrapTemporal("describe service "+name, err))
	}
	if desc.GetWorkflowExecutionInfo().GetCloseTime() != nil {
		return st, fmt.Errorf("%w: service %s was deleted", ErrNotFound, name)
	}
	v, err := c.Temporal.QueryWorkflow(ctx, id, "", workflows.QueryService)
	if err != nil {
		return st, serviceNotFound(name, wrapTemporal("query service "+name, err))
	}
	if err := v.Get(&st); err != nil {
		return st, fmt.Errorf("decode service %s: %w", name, err)
	}
	if st.Role == workflows.RoleFollower && st.Leader != "" {
		st.Lag = c.watchedLag(ctx, workflows.IntegrationWorkflowID(st.Leader, name))
	}
	if st.Promotion != nil {
		c.addLoss(ctx, name, st.Promotion)
	}
	return st, nil
}

// watchedLag is a follower's lag as its integration's leader watch last heartbeat it (nil when
// no watch runs): reading it adds nothing to the workflow's history. A heartbeat reaches
// Temporal at most every few seconds; while behind, the lag is brought to now (it grows with
// time until the follower catches up).
func (c *Control) watchedLag(ctx context.Context, integrationID string) *lag.Follower {
	desc, err := c.Temporal.DescribeWorkflowExecution(ctx, integrationID, "")
	if err != nil {
		return nil
	}
	live := workflows.LiveFigures(desc.GetPendingActivities())
	if live.Watch == nil || live.Watch.Lag == nil {
		return nil
	}
	l := live.Watch.Lag.Since(live.HeartbeatAt, time.Now())
	return &l
}

// WaitService waits until a service is RUNNING or FAILED (FAILED is returned as an error with
// the reason), calling progress with every new state.
func (c *Control) WaitService(ctx context.Context, name string, progress func(workflows.ServiceState)) (workflows.ServiceState, error) {
	return c.WaitServiceState(ctx, name, workflows.StateRunning, progress)
}

// WaitServiceState waits until a service is in state want, or FAILED (returned as an error with
// the reason), calling progress with every new state and reason.
func (c *Control) WaitServiceState(ctx context.Context, name, want string, progress func(workflows.ServiceState)) (workflows.ServiceState, error) {
	var last workflows.ServiceState
	tick := newTicker()
	defer tick.Stop()
	for {
		st, err := c.GetService(ctx, name)
		if err != nil && !errors.Is(err, ErrUnreachable) {
			return st, err
		}
		if err == nil {
			if progress != nil && (st.State != last.State || st.Reason != last.Reason) {
				progress(st)
			}
			last = st
			switch st.State {
			case want:
				return st, nil
			case workflows.StateFailed:
				return st, fmt.Errorf("service %s failed: %s", name, st.Reason)
			}
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("waiting for service %s to be %s: %w", name, want, ctx.Err())
		case <-tick.C:
		}
	}
}

// ListServices lists live services, optionally of one role, sorted by name.
func (c *Control) ListServices(ctx context.Context, role string) ([]ServiceSummary, error) {
	switch role {
	case "", workflows.RoleStandalone, workflows.RoleLeader, workflows.RoleFollower:
	default:
		return nil, fmt.Errorf("%w: role %q: use leader, follower or standalone", ErrInvalid, role)
	}
	filter := ""
	if role != "" {
		filter = fmt.Sprintf(" AND %s = '%s'", workflows.SearchRole.GetName(), role)
	}
	return c.listServices(ctx, filter)
}

// listServices lists live services matching a visibility filter (" AND ..."), sorted by name.
func (c *Control) listServices(ctx context.Context, filter string) ([]ServiceSummary, error) {
	query := "WorkflowType = 'ServiceWorkflow' AND ExecutionStatus = 'Running'" + filter
	out := []ServiceSummary{}
	var token []byte
	for {
		resp, err := c.Temporal.ListWorkflow(ctx, &workflowListRequest{Query: query, NextPageToken: token})
		if err != nil {
			return nil, wrapTemporal("list services", err)
		}
		for _, e := range resp.GetExecutions() {
			sa := e.GetSearchAttributes()
			out = append(out, ServiceSummary{
				Name:   keyword(sa, workflows.SearchService.GetName()),
				Plan:   keyword(sa, workflows.SearchPlan.GetName()),
				Role:   keyword(sa, workflows.SearchRole.GetName()),
				State:  keyword(sa, workflows.SearchState.GetName()),
				Leader: keyword(sa, workflows.SearchLeader.GetName()),
			})
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	slices.SortFunc(out, func(a, b ServiceSummary) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteService deletes a service: it goes DELETING at once and its workflow removes what
// osccr runs and ends. A service under termination protection is refused (ErrConflict, naming
// it) before the workflow is asked. A leader goes with its followers, as `avn service terminate
// FOLLOWER LEADER` asks: when every follower it has is already being deleted or promoted (or
// gone), the delete waits, at most DeleteWait, for them to leave its list (ErrInProgress on
// expiry, naming each and its state); a follower that stays refuses the delete (ErrConflict,
// naming it, nothing changed), and so does the workflow's own validator if one arrives
// meanwhile.
func (c *Control) DeleteService(ctx context.Context, name string) error {
	if err := provision.ValidateServiceName(name); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	st, err := c.GetService(ctx, name)
	if err != nil {
		return err
	}
	if st.TerminationProtection { // the workflow's validator refuses it too (serviceVersion 1)
		return fmt.Errorf("%w: %w", ErrConflict, workflows.TerminationProtected(name))
	}
	if err := c.awaitFollowersLeaving(ctx, name); err != nil {
		return err
	}
	return c.updateService(ctx, name, "delete", workflows.UpdateDelete, true, nil)
}

// awaitFollowersLeaving returns once the service leads no follower, waiting while each one it
// has is leaving: being deleted, being promoted, promoted already or gone (they tell their
// leader when done). A follower that stays is ErrConflict; followers still leaving after
// DeleteWait are ErrInProgress. A service osccr cannot read is left to the delete's own answer.
func (c *Control) awaitFollowersLeaving(ctx context.Context, name string) error {
	st, err := c.GetService(ctx, name)
	if err != nil {
		return nil
	}
	deadline := time.Now().Add(c.deleteWait())
	tick := newTicker()
	defer tick.Stop()
	for len(st.Followers) > 0 {
		var staying, leaving []string
		for _, f := range st.Followers {
			fs, err := c.GetService(ctx, f)
			switch {
			case errors.Is(err, ErrNotFound):
				leaving = append(leaving, f+" (deleted)")
			case err != nil:
				return err
			case fs.Role != workflows.RoleFollower || fs.Leader != name:
				leaving = append(leaving, f+" (promoted)")
			case fs.State == workflows.StateDeleting || fs.State == workflows.StatePromoting:
				leaving = append(leaving, fmt.Sprintf("%s (%s: %s)", f, fs.State, fs.Reason))
			default:
				staying = append(staying, fmt.Sprintf("%s (%s)", f, fs.State))
			}
		}
		if len(staying) > 0 {
			return fmt.Errorf("%w: delete %s: it is the leader of %s: delete or promote its followers first (a leader whose followers are all being deleted or promoted waits for them)",
				ErrConflict, name, strings.Join(staying, ", "))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: delete %s: its followers are still leaving after %s: %s; ask again: the delete waits for them again",
				ErrInProgress, name, c.deleteWait(), strings.Join(leaving, ", "))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("delete %s: waiting for its followers %s to leave: %w", name, strings.Join(leaving, ", "), ctx.Err())
		case <-tick.C:
		}
		if st, err = c.GetService(ctx, name); err != nil {
			return nil
		}
	}
	return nil
}

// ForceDeleteService ends a service whose machine or cluster is gone, also while a delete is
// stuck: its deprovision is tried once within a bound, and when it fails the service ends all
// the same, its last reason naming the nodes that may still run. A service that leads followers
// is refused, as by DeleteService.
func (c *Control) ForceDeleteService(ctx context.Context, name string) error {
	return c.updateService(ctx, name, "force-delete", workflows.UpdateForceDelete, true, nil)
}

// updateService sends an update to a service's workflow: with wait it returns once the update
// is done (its result in out), otherwise once it is accepted. A request the workflow refuses
// (its validator changes nothing) or fails is ErrConflict with the workflow's own reason.
func (c *Control) updateService(ctx context.Context, name, op, update string, wait bool, out any, args ...any) error {
	stage := client.WorkflowUpdateStageAccepted
	if wait {
		stage = client.WorkflowUpdateStageCompleted
	}
	handle, err := c.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflows.ServiceWorkflowID(name),
		UpdateName:   update,
		Args:         args,
		WaitForStage: stage,
	})
	if err == nil && wait {
		err = handle.Get(ctx, out)
	} else if err == nil {
		err = refusal(ctx, handle)
	}
	if err == nil {
		return nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return fmt.Errorf("%w: %s %s: %s", ErrConflict, op, name, appErr.Message())
	}
	return serviceNotFound(name, wrapTemporal(op+" "+name, err))
}

// refusal returns the workflow's refusal of an update the caller does not wait for. The SDK
// hands a rejected update back as a handle that already holds its outcome, not as an error;
// an accepted one is still running, which asking it with a context that has ended reveals.
func refusal(ctx context.Context, handle client.WorkflowUpdateHandle) error {
	ended, cancel := context.WithCancel(ctx)
	cancel()
	err := handle.Get(ended, nil)
	var running *client.WorkflowUpdateServiceTimeoutOrCanceledError
	if errors.As(err, &running) {
		return nil
	}
	return err
}

// WaitServiceGone waits until a deleted service's workflow has ended.
func (c *Control) WaitServiceGone(ctx context.Context, name string) error {
	err := c.Temporal.GetWorkflow(ctx, workflows.ServiceWorkflowID(name), "").Get(ctx, nil)
	if err != nil {
		return wrapTemporal("delete service "+name, err)
	}
	return nil
}

func serviceNotFound(name string, err error) error {
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: no service %s (osccr service list shows the services)", ErrNotFound, name)
	}
	return err
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// RecycleNode restarts one node of a service ("" for its first), pausing replication on the
// affected followers until the service is healthy again. With wait it returns once that is
// done; otherwise once the request is accepted. Refused with nothing changed: a node the
// service does not have (ErrInvalid, naming its nodes); a registered cluster, or a service
// provisioning, deleting or already recycling (ErrConflict).
func (c *Control) RecycleNode(ctx context.Context, name, node string, wait bool) error {
	if node != "" {
		// Checked before the workflow accepts the recycle: once accepted, the followers pause
		// before the backend finds that the node does not exist.
		st, err := c.GetService(ctx, name)
		if err != nil {
			return err
		}
		var nodes []string
		for _, n := range st.Endpoints.Nodes {
			nodes = append(nodes, n.Name)
		}
		if len(nodes) > 0 && !slices.Contains(nodes, node) {
			return fmt.Errorf("%w: service %s has no node %q (its nodes: %s); osccr service show %s -o json lists them", ErrInvalid, name, node, strings.Join(nodes, ", "), name)
		}
	}
	return c.updateService(ctx, name, "recycle node of", workflows.UpdateRecycleNode, wait, nil, node)
}

// UpdatePlan moves a service to another plan (a plan update of its workflow). With wait it
// returns once the plan is applied, with the service's state; otherwise once the request is
// accepted. Refused with nothing changed: an unknown plan (ErrInvalid); a follower's plan on its
// own, a leader or follower going below the business tier, a service not RUNNING, or a leader
// with a follower that cannot change now (ErrConflict). A leader's followers change first, then
// the leader; the local backend restarts nodes one at a time with the new plan's heap.
func (c *Control) UpdatePlan(ctx context.Context, name, planName string, wait bool) (workflows.ServiceState, error) {
	if _, err := plan.Default().Lookup(planName); err != nil {
		return workflows.ServiceState{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	st, err := c.GetService(ctx, name)
	if err != nil {
		return st, err
	}
	// A leader's followers change with it: one that cannot change now refuses the whole change
	// here, before anything changes.
	for _, f := range st.Followers {
		fs, err := c.GetService(ctx, f)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return st, err
		}
		if err := workflows.CheckPlanChange(fs, workflows.PlanChange{Plan: planName, Leader: name}); err != nil {
			return st, fmt.Errorf("%w: change plan of %s: its follower %s would have to change too: %v", ErrConflict, name, f, err)
		}
	}
	var out workflows.ServiceState
	err = c.updateService(ctx, name, "change plan of", workflows.UpdatePlan, wait, &out, workflows.PlanChange{Plan: planName})
	return out, err
}

// Credentials are a secured service's user and password, revealed on request
// (`osccr service credentials`): the only answer of osccr that carries a password.
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// CAFile is the CA certificate that signs the service's certificates ("" trusts the
	// system's roots).
	CAFile string `json:"ca_file,omitempty"`
}

// ServiceCredentials reveals a service's user and password. The service's references name
// files on the worker's machine; they are read HERE, by this process, so it works where the
// worker's files are readable (on the worker's machine, as the account that runs it): the
// password never passes through Temporal. A plain service has none (ErrConflict); a password
// kept in the worker's environment cannot be read from here (ErrConflict, saying so).
func (c *Control) ServiceCredentials(ctx context.Context, name string) (Credentials, error) {
	if err := provision.ValidateServiceName(name); err != nil {
		return Credentials{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	st, err := c.GetService(ctx, name)
	if err != nil {
		return Credentials{}, err
	}
	return CredentialsOf(st)
}

// CredentialsOf reveals the user and password of a service already looked up: see
// ServiceCredentials.
func CredentialsOf(st workflows.ServiceState) (Credentials, error) {
	name, ref := st.Name, st.ClusterRef()
	switch {
	case st.Backend == contract.BackendStatic && ref.Username != "":
		// A registered cluster's password is its owner's: osccr reads it only to call the
		// cluster, and never answers it to anyone (its reference could name any file).
		return Credentials{}, fmt.Errorf("%w: service %s is a registered cluster: osccr never reveals its password (user %s); read it where its owner keeps it", ErrConflict, name, ref.Username)
	case ref.Username == "" && st.LocalSecured():
		return Credentials{}, fmt.Errorf("%w: service %s is %s: its credentials exist once it is provisioned", ErrConflict, name, st.State)
	case ref.Username == "":
		return Credentials{}, fmt.Errorf("%w: service %s has no user: it is reached without credentials at %s", ErrConflict, name, ref.URL)
	case ref.PasswordEnv != "":
		return Credentials{}, fmt.Errorf("%w: service %s's password is in the worker's environment variable %s, which only the worker reads", ErrConflict, name, ref.PasswordEnv)
	case ref.PasswordFile == "":
		return Credentials{Username: ref.Username, CAFile: ref.CAFile}, nil
	}
	raw, err := os.ReadFile(ref.PasswordFile)
	if err != nil {
		return Credentials{}, fmt.Errorf("%w: service %s: its password is in %s on the machine of the worker that runs it (machine %q); read it there, as the account the worker runs as: %w", ErrConflict, name, ref.PasswordFile, st.Machine, err)
	}
	return Credentials{Username: ref.Username, Password: strings.TrimRight(strings.SplitN(string(raw), "\n", 2)[0], "\r"), CAFile: ref.CAFile}, nil
}

// SetTerminationProtection turns a service's termination protection on or off and returns the
// service as it then is. The service's workflow keeps it with the spec; a run started before
// the service workflow's version 1 does not know the update (it takes it after its next
// continue-as-new) and is refused, saying so.
func (c *Control) SetTerminationProtection(ctx context.Context, name string, on bool) (workflows.ServiceState, error) {
	if err := provision.ValidateServiceName(name); err != nil {
		return workflows.ServiceState{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	st, err := c.GetService(ctx, name)
	if err != nil || st.TerminationProtection == on {
		return st, err
	}
	var out workflows.ServiceState
	err = c.updateService(ctx, name, "set the termination protection of", workflows.UpdateTerminationProtection, true, &out, on)
	if err != nil && strings.Contains(err.Error(), "unknown update") {
		return st, fmt.Errorf("%w: service %s: its workflow run predates termination protection changes (service workflow version 1); it takes them after its next continue-as-new", ErrConflict, name)
	}
	return out, err
}
