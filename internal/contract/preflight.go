package contract

import "fmt"

// PreflightInput names the two clusters of a replication that is about to be set up.
type PreflightInput struct {
	Leader   ClusterRef `json:"leader"`
	Follower ClusterRef `json:"follower"`
}

// PreflightCheck is one thing a replication needs, checked on the real clusters.
type PreflightCheck struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Detail says what was found; Fix, for a failed check, what to do about it.
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// PreflightReport is every check, in order; OK when all passed.
type PreflightReport struct {
	OK     bool             `json:"ok"`
	Checks []PreflightCheck `json:"checks"`
}

// Failed lists the checks that failed, one line each with its fix.
func (r PreflightReport) Failed() []string {
	var out []string
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, fmt.Sprintf("%s: %s; %s", c.Name, c.Detail, c.Fix))
		}
	}
	return out
}

// LocalFollowerPreflightInput is a leader and the local follower osccr would provision for it.
type LocalFollowerPreflightInput struct {
	Leader   ClusterRef  `json:"leader"`
	Follower ServiceSpec `json:"follower"`
}

// Names of the preflight checks.
const (
	CheckCredentials  = "credentials"
	CheckVersion      = "same OpenSearch version"
	CheckPlugin       = "cross-cluster-replication plugin"
	CheckSecurity     = "same security mode"
	CheckRemoteClient = "remote_cluster_client role"
	CheckTransport    = "follower reaches the leader's transport port"
	CheckSoftDeletes  = "soft deletes on the leader's indexes"
)

// Names of the checks only a pair of secured clusters gets.
const (
	CheckReplicationUser = "replication user"
	CheckNodesDN         = "leader allows the follower's node DNs"
)
