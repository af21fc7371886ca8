package opensearch

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestNodesDNAllows(t *testing.T) {
	for _, c := range []struct {
		name    string
		entries []string
		dn      string
		want    bool
	}{
		{"equal", []string{"CN=f-0.node,OU=e2e,O=osccr"}, "CN=f-0.node,OU=e2e,O=osccr", true},
		{"case and spaces", []string{"cn=F-0.node, OU=e2e, O=osccr"}, "CN=f-0.node,OU=e2e,O=osccr", true},
		{"wildcard", []string{"CN=*.node,OU=e2e,O=osccr"}, "CN=f-0.node,OU=e2e,O=osccr", true},
		{"wildcard, other unit", []string{"CN=*.node,OU=e2e,O=osccr"}, "CN=f-0.node,OU=prod,O=osccr", false},
		{"regex", []string{`/CN=f-\d\.node,.*/`}, "CN=f-0.node,OU=e2e,O=osccr", true},
		{"absent", []string{"CN=l-0.node,OU=e2e,O=osccr"}, "CN=f-0.node,OU=e2e,O=osccr", false},
		{"none", nil, "CN=f-0.node,OU=e2e,O=osccr", false},
	} {
		if got := (NodesDNSettings{NodesDN: c.entries}).Allows(c.dn); got != c.want {
			t.Errorf("%s: Allows(%q) with %q = %v, want %v", c.name, c.dn, c.entries, got, c.want)
		}
	}
}

func TestMissingPermission(t *testing.T) {
	forbidden := `{"error":{"root_cause":[{"type":"security_exception","reason":"no permissions for [cluster:monitor/main] and User [name=osccr-replication, backend_roles=[], requestedTenant=null]"}],"type":"security_exception","reason":"no permissions for [cluster:monitor/main] and User [name=osccr-replication, backend_roles=[], requestedTenant=null]"},"status":403}`
	shardsDenied := `{"_shards":{"total":2,"successful":0,"failed":2,"failures":[{"shard":0,"index":"orders","status":"FORBIDDEN","reason":{"type":"security_exception","reason":"no permissions for [indices:admin/refresh[s]] and User [name=osccr, backend_roles=[], requestedTenant=null]"}}]}}`
	for _, c := range []struct {
		name       string
		err        error
		perm, user string
		ok         bool
	}{
		{"403 for want of a permission", responseError("cluster info", apiCore, http.StatusForbidden, []byte(forbidden)), "cluster:monitor/main", "osccr-replication", true},
		{"401", responseError("cluster info", apiCore, http.StatusUnauthorized, []byte(`Unauthorized`)), "", "", false},
		{"wrapped", fmt.Errorf("preflight: %w", responseError("x", apiCore, http.StatusForbidden, []byte(forbidden))), "cluster:monitor/main", "osccr-replication", true},
		{"not an opensearch error", fmt.Errorf("boom"), "", "", false},
		// A refresh whose every shard was denied: no "error", the failures under _shards (seen
		// on 2.19.4 for a role granting indices:admin/refresh but not its shard action).
		{"broadcast with every shard denied", responseError("refresh index \"orders\"", apiCore, http.StatusForbidden, []byte(shardsDenied)), "indices:admin/refresh[s]", "osccr", true},
	} {
		perm, user, ok := MissingPermission(c.err)
		if perm != c.perm || user != c.user || ok != c.ok {
			t.Errorf("%s: MissingPermission = %q %q %v, want %q %q %v", c.name, perm, user, ok, c.perm, c.user, c.ok)
		}
	}
}

// TestReplicationUserSignsReplicationCalls: the replication plugin's calls carry the
// replication user's credentials, every other call osccr's own.
func TestReplicationUserSignsReplicationCalls(t *testing.T) {
	seen := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _, _ := r.BasicAuth()
		seen[r.URL.Path] = u
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"user_name":"x","status":"SYNCING","cluster_name":"c","version":{"number":"2.19.4"}}`)
	}))
	defer srv.Close()
	for _, c := range []struct {
		name     string
		replUser string
		want     map[string]string
	}{
		{"with a replication user", "repl", map[string]string{"/": "osccr", "/_plugins/_replication/logs/_status": "repl", "/_plugins/_security/authinfo": "repl"}},
		{"without", "", map[string]string{"/": "osccr", "/_plugins/_replication/logs/_status": "osccr", "/_plugins/_security/authinfo": "osccr"}},
	} {
		clear(seen)
		cfg := Config{URLs: []string{srv.URL}, Username: "osccr", Password: "pw"}
		if c.replUser != "" {
			cfg.ReplicationUsername, cfg.ReplicationPassword = c.replUser, "rpw"
		}
		cl, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		_, _ = cl.Info(ctx)
		_, _ = cl.ReplicationStatus(ctx, "logs")
		_, _ = cl.ReplicationAuthInfo(ctx)
		for path, user := range c.want {
			if seen[path] != user {
				t.Errorf("%s: %s signed by %q, want %q", c.name, path, seen[path], user)
			}
		}
	}
}

// TestNodesDNReadsFlatSettings: nodes_dn as a flat list or as indexed keys, the union over the
// nodes, and the dynamic flag.
func TestNodesDNReadsFlatSettings(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"nodes":{"a":{"settings":{"plugins.security.nodes_dn":["CN=b","CN=a"],"plugins.security.nodes_dn_dynamic_config_enabled":"true","cluster.name":"x"}},
			"b":{"settings":{"plugins.security.nodes_dn.0":"CN=c","plugins.security.nodes_dn.1":"CN=a"}}}}`)
	}))
	defer srv.Close()
	c, err := New(Config{URLs: []string{srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.NodesDN(context.Background())
	if err != nil || fmt.Sprint(got.NodesDN) != "[CN=a CN=b CN=c]" || !got.Dynamic {
		t.Errorf("NodesDN = %+v %v, want [CN=a CN=b CN=c], dynamic", got, err)
	}
}
