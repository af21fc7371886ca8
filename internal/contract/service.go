package contract

import (
	"time"

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

// RecycleInput names the node of a service to recycle; "" means its first node.
type RecycleInput struct {
	Spec ServiceSpec `json:"spec"`
	Node string      `json:"node,omitempty"`
}

// RepairReport says what RepairService did: the service's endpoints after it (new ports when
// some moved), the nodes it started again and those of them whose ports moved.
type RepairReport struct {
	Endpoints ServiceEndpoints `json:"endpoints"`
	Restarted []string         `json:"restarted,omitempty"`
	Moved     []string         `json:"moved,omitempty"`
}
