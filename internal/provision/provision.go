// Package provision brings OpenSearch services (clusters) into being and takes them away, behind
// one Provisioner interface with two backends:
//
//   - Local runs real OpenSearch node processes on this machine (tests, demos, one-machine
//     setups); its state lives in its base directory, so it survives a restart of osccr.
//   - Static attaches clusters that already exist and that osccr does not run.
//
// Every method is safe to call again after a crash or a retry: Provision returns the endpoints
// of a service that is already there, Deprovision of a service that is gone succeeds.
package provision

import (
	"context"
	"errors"
	"fmt"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/plan"
)

// Spec is the service to provision.
type Spec struct {
	// Service is the service name: see ValidateServiceName.
	Service string
	// Plan says how many nodes, how much memory and disk the service has.
	Plan plan.Plan
	// Cloud and Region say where the service runs. The local and static backends record them
	// and otherwise ignore them.
	Cloud, Region string
	// ExtraDiskGB is disk added on top of the plan's, per service.
	ExtraDiskGB int
	// Secured runs the service with the security plugin: HTTPS and transport TLS with
	// certificates from the installation's CA, an admin user with a generated password. The
	// local backend honours it (Local.WithSecurity); the static backend ignores it (a
	// registered cluster's security is its own).
	Secured bool `json:",omitempty"`
}

// Endpoints say how to reach a provisioned service.
type Endpoints struct {
	// HTTPURL is the cluster's REST endpoint.
	HTTPURL string
	// TransportAddress (host:port) is what a follower cluster uses as its remote-cluster seed.
	TransportAddress string
	// Nodes are the nodes that run the service, in order.
	Nodes []NodeEndpoint
	// PlannedNodes is how many nodes the service's plan asks for. It can differ from
	// len(Nodes): the local backend runs one node per service whatever the plan says.
	PlannedNodes int
	// Credentials locate how to reach a secured service (files on the worker's machine); nil
	// for a plain one, and from a backend that does not make them.
	Credentials *Credentials
}

// NodeEndpoint is one node of a service.
type NodeEndpoint struct {
	Name             string
	HTTPURL          string // empty when the backend does not know it
	TransportAddress string
	PID              int // the node process; 0 when it runs elsewhere
}

// Health statuses: OpenSearch's own colours, plus "unreachable" when the cluster did not answer.
const (
	StatusGreen       = contract.HealthGreen
	StatusYellow      = contract.HealthYellow
	StatusRed         = contract.HealthRed
	StatusUnreachable = contract.HealthUnreachable
)

// Health is a service's health as its cluster reports it.
type Health struct {
	// Status is StatusGreen, StatusYellow, StatusRed or StatusUnreachable.
	Status string
	// Nodes is how many nodes the cluster has; 0 when unreachable.
	Nodes int
	// Reason explains a status other than green.
	Reason string
}

// Healthy reports whether the cluster serves reads and writes on all primaries (green or
// yellow), the condition for replication to run.
func (h Health) Healthy() bool { return h.Status == StatusGreen || h.Status == StatusYellow }

// Provisioner creates, recycles, checks and removes services. Implementations are safe for
// concurrent use, and every method can be retried.
type Provisioner interface {
	// Provision makes the service exist and answer, and returns its endpoints. Provisioning a
	// service that exists returns its endpoints; a backend that remembers the spec a service
	// was provisioned with refuses a different one (ErrSpecMismatch).
	Provision(ctx context.Context, spec Spec) (Endpoints, error)
	// Deprovision removes the service. Removing a service that does not exist is not an error.
	Deprovision(ctx context.Context, service string) error
	// RecycleNode restarts one node of the service, keeping its addresses and data; node ""
	// means the service's first node.
	RecycleNode(ctx context.Context, service, node string) error
	// ChangePlan moves the service to spec's plan (everything else in spec must be as
	// provisioned): a backend that runs the nodes restarts them one at a time with the new
	// plan's resources, each healthy before the next; one that does not run them records
	// nothing and changes nothing. Changing to the plan a service has is not an error.
	ChangePlan(ctx context.Context, spec Spec) error
	// Health reports the service's cluster health. A cluster that does not answer is reported
	// as StatusUnreachable, not as an error; errors mean the question itself failed (unknown
	// service, cancelled context).
	Health(ctx context.Context, service string) (Health, error)
}

// Errors for errors.Is. ErrInvalidSpec, ErrSpecMismatch, ErrUnknownNode and ErrUnsupported mean
// bad input: retrying the same call will not help.
var (
	// ErrUnknownService: the backend has no such service.
	ErrUnknownService = errors.New("unknown service")
	// ErrUnreachable: the service's cluster did not answer.
	ErrUnreachable = errors.New("service unreachable")
	// ErrUnsupported: the backend cannot do this, for example recycle a node of a cluster it
	// does not run.
	ErrUnsupported = errors.New("not supported by this provisioner")
	// ErrInvalidSpec: the spec or service name is malformed.
	ErrInvalidSpec = errors.New("invalid service spec")
	// ErrSpecMismatch: the service exists with another spec than the one asked for.
	ErrSpecMismatch = errors.New("service exists with another spec")
	// ErrUnknownNode: the service has no node of that name.
	ErrUnknownNode = errors.New("unknown node")
)

// Validate checks the spec, returning an error that matches ErrInvalidSpec and says what is
// wrong.
func (s Spec) Validate() error {
	if err := ValidateServiceName(s.Service); err != nil {
		return err
	}
	p := s.Plan
	switch {
	case p.Name == "":
		return fmt.Errorf("%w: service %q has no plan", ErrInvalidSpec, s.Service)
	case p.Nodes < 1:
		return fmt.Errorf("%w: plan %q has %d nodes, want at least 1", ErrInvalidSpec, p.Name, p.Nodes)
	case p.MemoryGB < 1:
		return fmt.Errorf("%w: plan %q has %d GB memory per node, want at least 1", ErrInvalidSpec, p.Name, p.MemoryGB)
	case p.DiskGB < 1:
		return fmt.Errorf("%w: plan %q has %d GB disk per node, want at least 1", ErrInvalidSpec, p.Name, p.DiskGB)
	case s.ExtraDiskGB < 0:
		return fmt.Errorf("%w: extra disk of service %q is %d GB, want 0 or more", ErrInvalidSpec, s.Service, s.ExtraDiskGB)
	}
	return nil
}

// ValidateServiceName checks that name can name a service: 3 to 63 characters of lowercase
// letters, digits and hyphens, starting with a letter and not ending with a hyphen. (The name
// becomes the OpenSearch cluster.name, a directory name, a remote-cluster alias and part of
// workflow IDs, which is why it is this strict.) The error matches ErrInvalidSpec.
func ValidateServiceName(name string) error {
	invalid := func(why string) error {
		return fmt.Errorf("%w: service name %q %s (want 3-63 lowercase letters, digits and hyphens, starting with a letter, e.g. \"logs-eu-1\")", ErrInvalidSpec, name, why)
	}
	switch {
	case name == "":
		return fmt.Errorf("%w: service name is empty (want 3-63 lowercase letters, digits and hyphens, starting with a letter, e.g. \"logs-eu-1\")", ErrInvalidSpec)
	case len(name) < 3:
		return invalid("is shorter than 3 characters")
	case len(name) > 63:
		return invalid(fmt.Sprintf("is %d characters long, more than 63", len(name)))
	case name[0] < 'a' || name[0] > 'z':
		return invalid("does not start with a lowercase letter")
	case name[len(name)-1] == '-':
		return invalid("ends with a hyphen")
	}
	for i, c := range []rune(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
		case c >= 'A' && c <= 'Z':
			return invalid("has an uppercase letter")
		default:
			return invalid(fmt.Sprintf("has the character %q at position %d", c, i+1))
		}
	}
	return nil
}
