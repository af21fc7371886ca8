// Package activities does all of osccr's I/O on behalf of the workflows: calls to OpenSearch
// and its cross-cluster-replication plugin, provisioning, verification. Activities are
// idempotent, so Temporal may retry them after any failure or worker crash.
package activities

import (
	"fmt"
	"os"

	"go.temporal.io/sdk/worker"

	"github.com/osccr/osccr/internal/lag"
	"github.com/osccr/osccr/internal/metrics"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/plan"
	"github.com/osccr/osccr/internal/provision"
)

// Register adds every osccr activity to a worker.
func Register(r worker.ActivityRegistry, a *Activities) {
	r.RegisterActivity(a)
}

// Activities is the receiver of every osccr activity; its fields are its dependencies.
type Activities struct {
	// Clients opens a client for a cluster. Nil means NewClient.
	Clients func(ClusterRef) (Cluster, error)
	// Local runs services as nodes on this machine; nil when the worker has no distribution.
	Local *provision.Local
	// Static attaches existing clusters.
	Static *provision.Static
	// Plans is the plan catalog; nil means plan.Default().
	Plans *plan.Catalog
	// Machine names this worker's machine; its worker also polls the machine's own task queue
	// (workflows.MachineTaskQueue), where the activities bound to the local nodes it runs go.
	Machine string
	// Lag holds the checkpoint samples the watches take, for the lag in seconds; nil takes
	// none.
	Lag *lag.Tracker
	// Metrics receives what the worker's Prometheus endpoint shows; nil records nothing.
	Metrics *metrics.Metrics
}

// ClusterRef says how to reach a cluster. It travels in workflow history, so it never holds a
// secret: PasswordEnv names the environment variable of the worker that holds the password.
type ClusterRef struct {
	// Name is the osccr service name of the cluster.
	Name string `json:"name"`
	// URL is the cluster's REST endpoint.
	URL string `json:"url"`
	// TransportAddress is host:port of the cluster's transport layer, the seed a follower uses.
	TransportAddress string `json:"transport_address"`
	// Username for basic auth, if the cluster has security enabled.
	Username string `json:"username,omitempty"`
	// PasswordEnv names the worker environment variable holding the password.
	PasswordEnv string `json:"password_env,omitempty"`
}

// NewClient opens a client for a cluster, reading its password from the worker's environment.
func NewClient(ref ClusterRef) (*opensearch.Client, error) {
	cfg := opensearch.Config{URLs: []string{ref.URL}, Username: ref.Username}
	if ref.PasswordEnv != "" {
		pw, ok := os.LookupEnv(ref.PasswordEnv)
		if !ok {
			return nil, fmt.Errorf("cluster %s: password variable %s is not set in the worker's environment", ref.Name, ref.PasswordEnv)
		}
		cfg.Password = pw
	}
	c, err := opensearch.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", ref.Name, err)
	}
	return c, nil
}

func (a *Activities) client(ref ClusterRef) (Cluster, error) {
	open := a.Clients
	if open == nil {
		open = func(ref ClusterRef) (Cluster, error) { return NewClient(ref) }
	}
	c, err := open(ref)
	if err != nil {
		return nil, classify(err)
	}
	return c, nil
}
