package security

import (
	"slices"
	"strings"
	"testing"
)

func TestRoles(t *testing.T) {
	for _, c := range []struct {
		side        Side
		role        string
		replication string
		has, hasNot []string
	}{
		{Leader, RoleOsccrLeader, RoleReplicationLeader, []string{"cluster:monitor/state", "indices:monitor/stats"}, []string{"cluster:admin/settings/update", "indices:admin/delete"}},
		{Follower, RoleOsccrFollower, RoleReplicationFollower, []string{"cluster:monitor/state", "cluster:admin/settings/update", "indices:admin/index_template/put", "indices:admin/delete"}, nil},
	} {
		r := OsccrRole(c.side)
		if r.Name != c.role || ReplicationRole(c.side) != c.replication {
			t.Errorf("%s: roles %s and %s", c.side, r.Name, ReplicationRole(c.side))
		}
		all := append(slices.Clone(r.ClusterPermissions), r.IndexPermissions[0].AllowedActions...)
		for _, p := range c.has {
			if !slices.Contains(all, p) {
				t.Errorf("%s: %s lacks %s", c.side, r.Name, p)
			}
		}
		for _, p := range c.hasNot {
			if slices.Contains(all, p) {
				t.Errorf("%s: %s grants %s, which osccr never needs there", c.side, r.Name, p)
			}
		}
		if slices.ContainsFunc(all, func(p string) bool { return strings.HasSuffix(p, "*") || strings.Contains(p, "security") }) {
			t.Errorf("%s: %s has a wildcard or a security permission: %v", c.side, r.Name, all)
		}
	}
	y := string(RolesYAML(OsccrLeaderRole, OsccrFollowerRole))
	for _, want := range []string{"_meta:\n  type: \"roles\"\n  config_version: 2\n", "\"osccr_leader\":\n  reserved: false\n  cluster_permissions:\n    - \"cluster:monitor/main\"\n",
		"  index_permissions:\n    - index_patterns:\n        - \"*\"\n      allowed_actions:\n        - \"indices:admin/get\"\n", "\"osccr_follower\":"} {
		if !strings.Contains(y, want) {
			t.Errorf("roles.yml lacks %q:\n%s", want, y)
		}
	}
}
