package provision

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/osccr/osccr/internal/opensearch"
)

// staticCallTimeout bounds each call Static makes to a cluster.
const staticCallTimeout = 30 * time.Second

// Static attaches OpenSearch clusters that exist already and that osccr does not run: what most
// self-hosting users have. It never starts, stops or changes a cluster; it only checks that a
// registered cluster answers and reports its health.
//
// Registrations live in memory only. osccr's durable state lives in Temporal: each service's
// workflow holds the service's endpoints, so after a restart of osccr the caller registers the
// services again from that state before using them.
type Static struct {
	mu       sync.RWMutex
	services map[string]staticCluster
}

var _ Provisioner = (*Static)(nil)

type staticCluster struct {
	httpURL          string
	transportAddress string
	// cfg is how to reach the cluster: its URL, credentials and TLS (in memory only).
	cfg opensearch.Config
}

// NewStatic returns a static provisioner with no clusters registered.
func NewStatic() *Static {
	return &Static{services: map[string]staticCluster{}}
}

// Register records that service is the existing cluster reachable at httpURL (REST) and
// transportAddress (host:port, the seed follower clusters connect to). Registering a service
// again replaces its addresses. It does not contact the cluster; Provision does.
func (s *Static) Register(service, httpURL, transportAddress string) error {
	return s.RegisterWith(service, plain(httpURL), transportAddress)
}

// RegisterWith is Register for a cluster reached with credentials or TLS: cfg holds its URL
// (the first of cfg.URLs is the service's endpoint), the credentials and the TLS material.
func (s *Static) RegisterWith(service string, cfg opensearch.Config, transportAddress string) error {
	if err := ValidateServiceName(service); err != nil {
		return err
	}
	if len(cfg.URLs) == 0 {
		return fmt.Errorf("%w: register service %q: no URL", ErrInvalidSpec, service)
	}
	httpURL := cfg.URLs[0]
	if _, err := newClient(cfg, staticCallTimeout); err != nil {
		return fmt.Errorf("%w: register service %q: %v", ErrInvalidSpec, service, err)
	}
	if err := checkTransportAddress(transportAddress); err != nil {
		return fmt.Errorf("%w: register service %q: %v", ErrInvalidSpec, service, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.services[service] = staticCluster{httpURL: httpURL, transportAddress: transportAddress, cfg: cfg}
	return nil
}

// Services lists the registered services, sorted.
func (s *Static) Services() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := make([]string, 0, len(s.services))
	for name := range s.services {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Provision checks that the registered cluster of spec.Service answers and returns its
// endpoints, with its nodes as the cluster lists them (names and transport addresses). An
// unregistered service is ErrUnknownService; a cluster that does not answer is ErrUnreachable.
// The spec's plan, cloud and region are not checked against the cluster.
func (s *Static) Provision(ctx context.Context, spec Spec) (Endpoints, error) {
	if err := spec.Validate(); err != nil {
		return Endpoints{}, err
	}
	c, err := s.cluster(spec.Service)
	if err != nil {
		return Endpoints{}, err
	}
	client, err := newClient(c.cfg, staticCallTimeout)
	if err != nil {
		return Endpoints{}, err
	}
	if _, err := client.Info(ctx); errors.Is(err, opensearch.ErrUnauthorized) {
		// Waiting will not change the answer: the reference must be fixed.
		return Endpoints{}, fmt.Errorf("%w: service %q at %s refused osccr's credentials (check the user, its password and its client certificate): %w", ErrInvalidSpec, spec.Service, c.httpURL, err)
	} else if err != nil {
		return Endpoints{}, fmt.Errorf("%w: service %q at %s: %v", ErrUnreachable, spec.Service, c.httpURL, err)
	}
	nodes, err := client.Nodes(ctx)
	if err != nil {
		return Endpoints{}, fmt.Errorf("%w: list nodes of service %q at %s: %v", ErrUnreachable, spec.Service, c.httpURL, err)
	}
	e := Endpoints{HTTPURL: c.httpURL, TransportAddress: c.transportAddress, PlannedNodes: spec.Plan.Nodes}
	for _, n := range nodes {
		e.Nodes = append(e.Nodes, NodeEndpoint{Name: n.Name, TransportAddress: n.TransportAddress})
	}
	return e, nil
}

// Deprovision forgets the service. The cluster itself is left as it is: osccr did not create
// it and does not delete it. An unregistered service is not an error.
func (s *Static) Deprovision(_ context.Context, service string) error {
	if err := ValidateServiceName(service); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.services, service)
	return nil
}

// RecycleNode is ErrUnsupported for a registered service (ErrUnknownService otherwise).
func (s *Static) RecycleNode(_ context.Context, service, _ string) error {
	if err := ValidateServiceName(service); err != nil {
		return err
	}
	if _, err := s.cluster(service); err != nil {
		return err
	}
	return fmt.Errorf("%w: service %q: osccr cannot restart nodes of a cluster it does not run; restart the node yourself, osccr pauses replication while the cluster is unhealthy", ErrUnsupported, service)
}

// ChangePlan accepts any plan for a registered service (ErrUnknownService otherwise): osccr
// does not size a cluster it does not run; the plan is what the service's owner says it is.
func (s *Static) ChangePlan(_ context.Context, spec Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	_, err := s.cluster(spec.Service)
	return err
}

// Health asks the registered cluster for its health; a cluster that does not answer is
// StatusUnreachable.
func (s *Static) Health(ctx context.Context, service string) (Health, error) {
	if err := ValidateServiceName(service); err != nil {
		return Health{}, err
	}
	c, err := s.cluster(service)
	if err != nil {
		return Health{}, err
	}
	return clusterHealth(ctx, c.cfg)
}

func (s *Static) cluster(service string) (staticCluster, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.services[service]
	if !ok {
		return staticCluster{}, fmt.Errorf("%w %q: the static provisioner only attaches existing clusters; register the cluster first with its HTTP URL and transport address", ErrUnknownService, service)
	}
	return c, nil
}

func checkTransportAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("transport address %q is not host:port (e.g. 10.0.0.5:9300): %v", addr, err)
	}
	if host == "" {
		return fmt.Errorf("transport address %q has no host", addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("transport address %q has no valid port (1-65535)", addr)
	}
	return nil
}
