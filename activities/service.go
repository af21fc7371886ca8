package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/osccr/osccr/internal/plan"
	"github.com/osccr/osccr/internal/provision"
	"github.com/osccr/osccr/internal/rules"
)

// Provisioning backends a service can live on.
const (
	// BackendLocal runs the service as real OpenSearch nodes on the worker's machine.
	BackendLocal = "local"
	// BackendStatic attaches an existing cluster given its URLs.
	BackendStatic = "static"
)

// Security modes of a local service (ServiceSpec.Security).
const (
	// SecurityPlugin runs the service with the security plugin: HTTPS and transport TLS with
	// certificates from the installation's CA, an admin user with a generated password. The
	// default of every new local service.
	SecurityPlugin = rules.SecurityPlugin
	// SecurityNone runs it on plain HTTP with no user: the explicit opt-out
	// (`service create --security=none`). A spec without a mode (a service created before local
	// services were secured) is plain too.
	SecurityNone = rules.SecurityNone
)

// ServiceSpec is what a service is asked to be. It travels in workflow history, so it holds
// no secret.
type ServiceSpec struct {
	Name        string `json:"name"`
	Plan        string `json:"plan"`
	Cloud       string `json:"cloud"`
	Region      string `json:"region"`
	ExtraDiskGB int    `json:"extra_disk_gb,omitempty"`
	Backend     string `json:"backend"`
	// URL and TransportAddress locate a static service's existing cluster, and ClusterAuth how to
	// authenticate to it and trust it (references only).
	URL              string `json:"url,omitempty"`
	TransportAddress string `json:"transport_address,omitempty"`
	ClusterAuth
	// Machine is the machine whose worker runs a local service's nodes, chosen once, before
	// they are provisioned (PlaceService): the activities bound to those nodes (provision,
	// recycle, plan change, deprovision) run on its own task queue. "" for a static service,
	// and for a local one created before services were placed (the shared queue then).
	Machine string `json:"machine,omitempty"`
	// Security is a local service's security mode: SecurityPlugin or SecurityNone ("" is
	// plain, as services were before the mode existed). A static service's is its ClusterAuth.
	Security string `json:"security,omitempty"` // TerminationProtection, as Aiven's: while it is on, the service cannot be deleted (a
	// promotion or a switchover is not blocked: a disaster must not wait for a flag).
	TerminationProtection bool `json:"termination_protection,omitempty"`
}

// LocalSecured reports whether the spec asks for a local service with the security plugin.
func (s ServiceSpec) LocalSecured() bool {
	return s.Backend == BackendLocal && s.Security == SecurityPlugin
}

// ServiceEndpoints are where a provisioned service answers.
type ServiceEndpoints struct {
	HTTPURL          string         `json:"http_url"`
	TransportAddress string         `json:"transport_address"`
	Nodes            []NodeEndpoint `json:"nodes,omitempty"`
	PlannedNodes     int            `json:"planned_nodes"`
	// Auth is how a secured local service is reached, by reference only (its CA file and the
	// file of its admin's password, on the machine of the worker that provisioned it): the
	// backend makes them, so they are known only once it has. Empty for a plain service and
	// for a static one (whose spec carries its own).
	Auth ClusterAuth `json:"auth,omitzero"`
}

// NodeEndpoint is one node of a service.
type NodeEndpoint struct {
	Name             string `json:"name"`
	HTTPURL          string `json:"http_url,omitempty"`
	TransportAddress string `json:"transport_address"`
}

// ErrTypeNoBackend says the worker cannot run a backend the service asks for.
const ErrTypeNoBackend = "NoBackend"

// LifecycleHeartbeatTimeout is the heartbeat timeout of the long lifecycle activities
// (ProvisionService, DeprovisionService, RecycleServiceNode, ChangeServicePlan): they heartbeat
// every lifecycleHeartbeatEvery while they run, so a call lost with a crashed worker is retried
// after this long, not after its whole start-to-close timeout (up to 30 minutes).
const LifecycleHeartbeatTimeout = 30 * time.Second

const lifecycleHeartbeatEvery = 5 * time.Second

// heartbeating records a heartbeat every lifecycleHeartbeatEvery until the returned function
// is called: the provisioner's calls block for minutes and report nothing on the way, and the
// heartbeat says the worker running them is alive. Outside an activity it does nothing.
func heartbeating(ctx context.Context) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	return beatEvery(ctx, lifecycleHeartbeatEvery, func() { activity.RecordHeartbeat(ctx) })
}

// beatEvery calls beat every interval until the returned function is called or ctx ends; the
// returned function returns once beat is no longer called.
func beatEvery(ctx context.Context, interval time.Duration, beat func()) (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				beat()
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// PlaceService chooses the machine that will run a local service's nodes: the machine of the
// worker that takes this activity from the shared task queue, when that worker can run local
// services. The service's node-bound activities then go to that machine's task queue.
func (a *Activities) PlaceService(ctx context.Context, spec ServiceSpec) (string, error) {
	if _, _, err := a.provisioner(spec); err != nil {
		return "", err
	}
	if a.Machine == "" {
		return "", temporal.NewNonRetryableApplicationError("this worker has no machine name: it cannot run local services", ErrTypeNoBackend, nil)
	}
	return a.Machine, nil
}

// ProvisionService makes the service's cluster exist and answer, and returns its endpoints.
// Both backends are idempotent, so a retry after a crash finds what the first try made.
func (a *Activities) ProvisionService(ctx context.Context, spec ServiceSpec) (ServiceEndpoints, error) {
	defer heartbeating(ctx)()
	p, pspec, err := a.provisioner(spec)
	if err != nil {
		return ServiceEndpoints{}, err
	}
	ep, err := p.Provision(ctx, pspec)
	if err != nil {
		return ServiceEndpoints{}, classifyProvision(fmt.Errorf("provision service %s: %w", spec.Name, err))
	}
	return serviceEndpoints(ep), nil
}

// DeprovisionService removes what osccr runs for the service: the local backend stops and
// deletes its nodes; the static backend forgets the cluster and never touches it.
func (a *Activities) DeprovisionService(ctx context.Context, spec ServiceSpec) error {
	defer heartbeating(ctx)()
	p, _, err := a.provisioner(spec)
	if err != nil {
		return err
	}
	if err := p.Deprovision(ctx, spec.Name); err != nil {
		return classifyProvision(fmt.Errorf("deprovision service %s: %w", spec.Name, err))
	}
	return nil
}

// provisioner picks the backend for a spec and translates the spec. A static cluster is
// registered from the spec on every call: the registration lives in this worker's memory,
// while the spec lives in workflow history and survives any restart.
func (a *Activities) provisioner(spec ServiceSpec) (provision.Provisioner, provision.Spec, error) {
	catalog := a.Plans
	if catalog == nil {
		catalog = plan.Default()
	}
	p, err := catalog.Lookup(spec.Plan)
	if err != nil {
		return nil, provision.Spec{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBadRequest, nil)
	}
	pspec := provision.Spec{Service: spec.Name, Plan: p, Cloud: spec.Cloud, Region: spec.Region, ExtraDiskGB: spec.ExtraDiskGB, Secured: spec.LocalSecured()}
	switch spec.Backend {
	case BackendLocal:
		if a.Local == nil {
			return nil, pspec, temporal.NewNonRetryableApplicationError(
				"this worker cannot run local services: it has no OpenSearch distribution (run `make opensearch` on the worker's machine, or set OSCCR_OPENSEARCH_HOME)",
				ErrTypeNoBackend, nil)
		}
		return a.Local, pspec, nil
	case BackendStatic:
		if a.Static == nil {
			return nil, pspec, temporal.NewNonRetryableApplicationError("this worker has no static backend", ErrTypeNoBackend, nil)
		}
		ref := ClusterRef{Name: spec.Name, URL: spec.URL, TransportAddress: spec.TransportAddress, ClusterAuth: spec.ClusterAuth}
		if err := a.Secrets.checkRef(ref); err != nil {
			return nil, pspec, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeSecretRefused, nil)
		}
		cfg, err := ClientConfig(ref)
		if err != nil {
			return nil, pspec, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBadRequest, nil)
		}
		if err := a.Static.RegisterWith(spec.Name, cfg, spec.TransportAddress); err != nil {
			return nil, pspec, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBadRequest, nil)
		}
		return a.Static, pspec, nil
	}
	return nil, pspec, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown backend %q: use %q or %q", spec.Backend, BackendLocal, BackendStatic), ErrTypeBadRequest, nil)
}

// classifyProvision makes the provisioner's errors that no retry can fix non-retryable; an
// unreachable cluster stays retryable (it may be starting).
func classifyProvision(err error) error {
	for _, e := range []error{provision.ErrInvalidSpec, provision.ErrSpecMismatch, provision.ErrUnknownService, provision.ErrUnknownNode, provision.ErrUnsupported} {
		if errors.Is(err, e) {
			return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBadRequest, nil)
		}
	}
	return classify(err)
}

// RecycleInput names the node of a service to recycle; "" means its first node.
type RecycleInput struct {
	Spec ServiceSpec `json:"spec"`
	Node string      `json:"node,omitempty"`
}

// RecycleServiceNode restarts one node of a service and returns once the cluster is healthy
// again. The local backend really restarts the node process, keeping its ports and data.
func (a *Activities) RecycleServiceNode(ctx context.Context, in RecycleInput) error {
	defer heartbeating(ctx)()
	p, _, err := a.provisioner(in.Spec)
	if err != nil {
		return err
	}
	if err := p.RecycleNode(ctx, in.Spec.Name, in.Node); err != nil {
		return classifyProvision(fmt.Errorf("recycle node %q of service %s: %w", in.Node, in.Spec.Name, err))
	}
	return nil
}

// ChangeServicePlan moves a service to spec.Plan: the local backend restarts its nodes one at a
// time with the new plan's heap, each healthy before the next; a registered cluster is not
// touched. Changing to the plan the service has restarts nothing, so a retry is safe.
func (a *Activities) ChangeServicePlan(ctx context.Context, spec ServiceSpec) error {
	defer heartbeating(ctx)()
	p, pspec, err := a.provisioner(spec)
	if err != nil {
		return err
	}
	if err := p.ChangePlan(ctx, pspec); err != nil {
		return classifyProvision(fmt.Errorf("change plan of service %s to %s: %w", spec.Name, spec.Plan, err))
	}
	return nil
}

// RepairReport says what RepairService did: the service's endpoints after it (new ports when
// some moved), the nodes it started again and those of them whose ports moved.
type RepairReport struct {
	Endpoints ServiceEndpoints `json:"endpoints"`
	Restarted []string         `json:"restarted,omitempty"`
	Moved     []string         `json:"moved,omitempty"`
}

// RepairService starts again, on the worker that runs them, every node of a local service that
// is no longer running (killed, crashed): same data directory, same ports where still free
// (provision.Local.Repair, with its own bounded retries). Running nodes are left alone, so a
// repair of a service that came back by itself changes nothing. A registered cluster is not
// osccr's to restart: that is refused, non-retryable.
func (a *Activities) RepairService(ctx context.Context, spec ServiceSpec) (RepairReport, error) {
	defer heartbeating(ctx)()
	if spec.Backend != BackendLocal {
		return RepairReport{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("service %s is a registered cluster: osccr does not run its nodes and cannot restart them", spec.Name), ErrTypeBadRequest, nil)
	}
	if _, _, err := a.provisioner(spec); err != nil {
		return RepairReport{}, err
	}
	rep, err := a.Local.Repair(ctx, spec.Name)
	if err != nil {
		return RepairReport{}, classifyProvision(err)
	}
	out := RepairReport{Endpoints: serviceEndpoints(rep.Endpoints), Restarted: rep.Restarted, Moved: rep.Moved}
	if len(rep.Restarted) > 0 {
		activity.GetLogger(ctx).Info("repaired service", "service", spec.Name, "restarted", rep.Restarted, "moved", rep.Moved)
	}
	return out, nil
}

// serviceEndpoints translates the provisioner's endpoints.
func serviceEndpoints(ep provision.Endpoints) ServiceEndpoints {
	out := ServiceEndpoints{HTTPURL: ep.HTTPURL, TransportAddress: ep.TransportAddress, PlannedNodes: ep.PlannedNodes}
	if c := ep.Credentials; c != nil {
		out.Auth = ClusterAuth{Username: c.Username, PasswordFile: c.PasswordFile, CAFile: c.CAFile}
	}
	for _, n := range ep.Nodes {
		out.Nodes = append(out.Nodes, NodeEndpoint{Name: n.Name, HTTPURL: n.HTTPURL, TransportAddress: n.TransportAddress})
	}
	return out
}
