package security

import (
	"fmt"
	"strings"
)

// Least privilege on a registered (or osccr-started) secured cluster: osccr calls it as its
// own user, mapped to the osccr role of the cluster's side, and the replication runs as a
// separate replication user, mapped to the replication plugin's built-in role of that side and
// named in use_roles on every start. Neither is an administrator. An operator applies the same
// data to a cluster osccr does not start: RolesYAML is the roles.yml entry, and docs/clusters.md
// lists the mappings.

// Side is the part a cluster plays in a replication.
type Side string

// The two sides.
const (
	Leader   Side = "leader"
	Follower Side = "follower"
)

// Default names of the two least-privilege users; any names work, the replication user's must
// be the same on both clusters (the plugin runs the leader side as the user that started it).
const (
	OsccrUserName       = "osccr"
	ReplicationUserName = "osccr-replication"
)

// Names of osccr's own roles.
const (
	RoleOsccrLeader   = "osccr_leader"
	RoleOsccrFollower = "osccr_follower"
)

// Role is a security plugin role: cluster permissions and index permissions on patterns.
type Role struct {
	Name               string
	ClusterPermissions []string
	IndexPermissions   []IndexPermission
}

// IndexPermission is a role's allowed actions on the indexes matching its patterns.
type IndexPermission struct {
	IndexPatterns  []string
	AllowedActions []string
}

// osccrReads is what osccr reads on either side: who the cluster is and its health (GET /,
// _cluster/health), its plugins and node settings (_cat/plugins, _nodes/settings: the
// preflight), node stats (service health), the cluster state's metadata and version (the
// metadata watch, _cat/indices), the cluster settings, the index and component templates, and
// the ISM policies.
var osccrReads = []string{
	"cluster:monitor/main",
	"cluster:monitor/health",
	"cluster:monitor/state",
	"cluster:monitor/nodes/info",
	"cluster:monitor/nodes/stats",
	"cluster:monitor/settings",
	"cluster:monitor/remote/info",
	"indices:admin/index_template/get",
	"indices:admin/template/get",
	"cluster:admin/component_template/get",
	// ISM: the policies (listed and read; the watch polls the leader's) and which policy
	// manages an index (a promotion gives the follower index its leader index's).
	"cluster:admin/opendistro/ism/policy/search",
	"cluster:admin/opendistro/ism/policy/get",
	"cluster:admin/opendistro/ism/managedindex/explain",
	"indices:data/read/scroll",
	"indices:data/read/scroll/clear",
}

// osccrIndexReads is what osccr reads of the user indexes on either side: their settings,
// mappings and aliases (what a follower must mirror), their stats (checkpoints, lag), and their
// documents (follower verify: count, search, scroll; refresh).
var osccrIndexReads = []string{
	"indices:admin/get",
	"indices:admin/mappings/get",
	"indices:admin/aliases/get",
	"indices:monitor/settings/get",
	"indices:monitor/stats",
	"indices:data/read/search",
	"indices:data/read/scroll",
	// A follower index declared caught up is refreshed first, so that searches see every
	// document (a refresh is allowed on a follower index).
	"indices:admin/refresh",
	"indices:admin/refresh[s]", // the refresh's shard-level action: denied, the refresh fails
	// ISM's own check on the indexes of its explain and add calls (which policy manages an
	// index; attaching a promoted index to its policy).
	"indices:admin/opensearch/ism/managedindex",
}

// OsccrLeaderRole is osccr's role on a leader: it only reads there.
var OsccrLeaderRole = Role{
	Name:               RoleOsccrLeader,
	ClusterPermissions: osccrReads,
	IndexPermissions:   []IndexPermission{{IndexPatterns: []string{"*"}, AllowedActions: osccrIndexReads}},
}

// OsccrFollowerRole is osccr's role on a follower: the reads, plus the remote cluster
// connection (cluster settings), the configuration it copies from the leader (templates,
// pipelines, stored scripts), and what the
// whole-cluster sync and a promotion change on follower indexes (delete one whose leader index
// is gone, aliases, settings).
var OsccrFollowerRole = Role{
	Name: RoleOsccrFollower,
	ClusterPermissions: append(append([]string{}, osccrReads...),
		"cluster:admin/settings/update",
		"indices:admin/index_template/put",
		"indices:admin/index_template/delete",
		"cluster:admin/component_template/put",
		"cluster:admin/component_template/delete",
		"cluster:admin/ingest/pipeline/put",
		"cluster:admin/ingest/pipeline/delete",
		"cluster:admin/search/pipeline/put",
		"cluster:admin/search/pipeline/delete",
		"cluster:admin/script/put",
		"cluster:admin/script/delete",
		"cluster:admin/opendistro/ism/policy/write",
		"cluster:admin/opendistro/ism/policy/delete",
		"cluster:admin/opendistro/ism/managedindex/add",
	),
	IndexPermissions: []IndexPermission{{IndexPatterns: []string{"*"}, AllowedActions: append(append([]string{}, osccrIndexReads...),
		"indices:admin/delete",
		"indices:admin/aliases",
		"indices:admin/settings/update",
		"indices:admin/mapping/put",
	)}},
}

// OsccrRole is osccr's role on a cluster of that side.
func OsccrRole(s Side) Role {
	if s == Leader {
		return OsccrLeaderRole
	}
	return OsccrFollowerRole
}

// ReplicationRole is the replication plugin's built-in role the replication user is mapped to
// on a cluster of that side, and that use_roles names for it.
func ReplicationRole(s Side) string {
	if s == Leader {
		return RoleReplicationLeader
	}
	return RoleReplicationFollower
}

// RolesYAML renders roles as the security plugin's roles.yml.
func RolesYAML(roles ...Role) []byte {
	return append([]byte("_meta:\n  type: \"roles\"\n  config_version: 2\n"), rolesEntries(roles...)...)
}

// rolesEntries renders roles as entries of roles.yml (without its _meta header).
func rolesEntries(roles ...Role) []byte {
	var b strings.Builder
	for _, r := range roles {
		fmt.Fprintf(&b, "%q:\n  reserved: false\n", r.Name)
		if len(r.ClusterPermissions) > 0 {
			b.WriteString("  cluster_permissions:\n")
			for _, p := range r.ClusterPermissions {
				fmt.Fprintf(&b, "    - %q\n", p)
			}
		}
		if len(r.IndexPermissions) > 0 {
			b.WriteString("  index_permissions:\n")
			for _, ip := range r.IndexPermissions {
				b.WriteString("    - index_patterns:\n")
				for _, p := range ip.IndexPatterns {
					fmt.Fprintf(&b, "        - %q\n", p)
				}
				b.WriteString("      allowed_actions:\n")
				for _, a := range ip.AllowedActions {
					fmt.Fprintf(&b, "        - %q\n", a)
				}
			}
		}
	}
	return []byte(b.String())
}
