package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/plan"
	"github.com/osccr/osccr/internal/provision"
)

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
func (a *Activities) PlaceService(ctx context.Context, spec contract.ServiceSpec) (string, error) {
	if _, _, err := a.provisioner(spec); err != nil {
		return "", err
	}
	if a.Machine == "" {
		return "", temporal.NewNonRetryableApplicationError("this worker has no machine name: it cannot run local services", contract.ErrTypeNoBackend, nil)
	}
	return a.Machine, nil
}

// ProvisionService makes the service's cluster exist and answer, and returns its endpoints.
// Both backends are idempotent, so a retry after a crash finds what the first try made.
func (a *Activities) ProvisionService(ctx context.Context, spec contract.ServiceSpec) (contract.ServiceEndpoints, error) {
	defer heartbeating(ctx)()
	p, pspec, err := a.provisioner(spec)
	if err != nil {
		return contract.ServiceEndpoints{}, err
	}
	ep, err := p.Provision(ctx, pspec)
	if err != nil {
		return contract.ServiceEndpoints{}, classifyProvision(fmt.Errorf("provision service %s: %w", spec.Name, err))
	}
	return serviceEndpoints(ep), nil
}

// DeprovisionService removes what osccr runs for the service: the local backend stops and
// deletes its nodes; the static backend forgets the cluster and never touches it.
func (a *Activities) DeprovisionService(ctx context.Context, spec contract.ServiceSpec) error {
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
func (a *Activities) provisioner(spec contract.ServiceSpec) (provision.Provisioner, provision.Spec, error) {
	catalog := a.Plans
	if catalog == nil {
		catalog = plan.Default()
	}
	p, err := catalog.Lookup(spec.Plan)
	if err != nil {
		return nil, provision.Spec{}, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeBadRequest, nil)
	}
	pspec := provision.Spec{Service: spec.Name, Plan: p, Cloud: spec.Cloud, Region: spec.Region, ExtraDiskGB: spec.ExtraDiskGB, Secured: spec.LocalSecured()}
	switch spec.Backend {
	case contract.BackendLocal:
		if a.Local == nil {
			return nil, pspec, temporal.NewNonRetryableApplicationError(
				"this worker cannot run local services: it has no OpenSearch distribution (run `make opensearch` on the worker's machine, or set OSCCR_OPENSEARCH_HOME)",
				contract.ErrTypeNoBackend, nil)
		}
		return a.Local, pspec, nil
	case contract.BackendStatic:
		if a.Static == nil {
			return nil, pspec, temporal.NewNonRetryableApplicationError("this worker has no static backend", contract.ErrTypeNoBackend, nil)
		}
		ref := contract.ClusterRef{Name: spec.Name, URL: spec.URL, TransportAddress: spec.TransportAddress, ClusterAuth: spec.ClusterAuth}
		if err := a.Secrets.checkRef(ref); err != nil {
			return nil, pspec, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeSecretRefused, nil)
		}
		cfg, err := ClientConfig(ref)
		if err != nil {
			return nil, pspec, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeBadRequest, nil)
		}
		if err := a.Static.RegisterWith(spec.Name, cfg, spec.TransportAddress); err != nil {
			return nil, pspec, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeBadRequest, nil)
		}
		return a.Static, pspec, nil
	}
	return nil, pspec, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown backend %q: use %q or %q", spec.Backend, contract.BackendLocal, contract.BackendStatic), contract.ErrTypeBadRequest, nil)
}

// classifyProvision makes the provisioner's errors that no retry can fix non-retryable; an
// unreachable cluster stays retryable (it may be starting).
func classifyProvision(err error) error {
	for _, e := range []error{provision.ErrInvalidSpec, provision.ErrSpecMismatch, provision.ErrUnknownService, provision.ErrUnknownNode, provision.ErrUnsupported} {
		if errors.Is(err, e) {
			return temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeBadRequest, nil)
		}
	}
	return classify(err)
}

// RecycleServiceNode restarts one node of a service and returns once the cluster is healthy
// again. The local backend really restarts the node process, keeping its ports and data.
func (a *Activities) RecycleServiceNode(ctx context.Context, in contract.RecycleInput) error {
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
func (a *Activities) ChangeServicePlan(ctx context.Context, spec contract.ServiceSpec) error {
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

// RepairService starts again, on the worker that runs them, every node of a local service that
// is no longer running (killed, crashed): same data directory, same ports where still free
// (provision.Local.Repair, with its own bounded retries). Running nodes are left alone, so a
// repair of a service that came back by itself changes nothing. A registered cluster is not
// osccr's to restart: that is refused, non-retryable.
func (a *Activities) RepairService(ctx context.Context, spec contract.ServiceSpec) (contract.RepairReport, error) {
	defer heartbeating(ctx)()
	if spec.Backend != contract.BackendLocal {
		return contract.RepairReport{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("service %s is a registered cluster: osccr does not run its nodes and cannot restart them", spec.Name), contract.ErrTypeBadRequest, nil)
	}
	if _, _, err := a.provisioner(spec); err != nil {
		return contract.RepairReport{}, err
	}
	rep, err := a.Local.Repair(ctx, spec.Name)
	if err != nil {
		return contract.RepairReport{}, classifyProvision(err)
	}
	out := contract.RepairReport{Endpoints: serviceEndpoints(rep.Endpoints), Restarted: rep.Restarted, Moved: rep.Moved}
	if len(rep.Restarted) > 0 {
		activity.GetLogger(ctx).Info("repaired service", "service", spec.Name, "restarted", rep.Restarted, "moved", rep.Moved)
	}
	return out, nil
}

// serviceEndpoints translates the provisioner's endpoints.
func serviceEndpoints(ep provision.Endpoints) contract.ServiceEndpoints {
	out := contract.ServiceEndpoints{HTTPURL: ep.HTTPURL, TransportAddress: ep.TransportAddress, PlannedNodes: ep.PlannedNodes}
	if c := ep.Credentials; c != nil {
		out.Auth = contract.ClusterAuth{Username: c.Username, PasswordFile: c.PasswordFile, CAFile: c.CAFile}
	}
	for _, n := range ep.Nodes {
		out.Nodes = append(out.Nodes, contract.NodeEndpoint{Name: n.Name, HTTPURL: n.HTTPURL, TransportAddress: n.TransportAddress})
	}
	return out
}
