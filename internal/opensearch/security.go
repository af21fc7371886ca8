package opensearch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// AuthInfo is who the security plugin takes a caller for: its user name and the roles it is
// mapped to (_plugins/_security/authinfo, which any authenticated user may call).
type AuthInfo struct {
	User         string   `json:"user_name"`
	Roles        []string `json:"roles"`
	BackendRoles []string `json:"backend_roles"`
}

// AuthInfo says who osccr's own user is on the cluster.
func (c *Client) AuthInfo(ctx context.Context) (AuthInfo, error) {
	return c.authInfo(ctx, false)
}

// ReplicationAuthInfo says who the replication user is on the cluster (osccr's own user when
// the client has no replication user).
func (c *Client) ReplicationAuthInfo(ctx context.Context) (AuthInfo, error) {
	return c.authInfo(ctx, true)
}

func (c *Client) authInfo(ctx context.Context, replication bool) (AuthInfo, error) {
	var a AuthInfo
	op := "read who osccr's user is"
	if replication {
		op = "read who the replication user is"
	}
	err := c.do(ctx, request{op: op, method: http.MethodGet, path: "/_plugins/_security/authinfo", replicationUser: replication}, &a)
	return a, err
}

// NodesDNSettings is what a secured cluster's nodes say about the node DNs they accept from
// other clusters: the static plugins.security.nodes_dn entries (the union over its nodes), and
// whether more may be added at run time (nodes_dn_dynamic_config_enabled), which osccr's user
// cannot read.
type NodesDNSettings struct {
	NodesDN []string
	Dynamic bool
}

// Allows reports whether a DN matches one of the static entries: equal, or matching an entry
// with * wildcards, or a /regex/ entry, as the security plugin matches them.
func (s NodesDNSettings) Allows(dn string) bool {
	for _, p := range s.NodesDN {
		if dnMatches(p, dn) {
			return true
		}
	}
	return false
}

func dnMatches(pattern, dn string) bool {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), ", ", ",") }
	pattern, dn = norm(pattern), norm(dn)
	if len(pattern) > 1 && strings.HasPrefix(pattern, "/") && strings.HasSuffix(pattern, "/") {
		re, err := regexp.Compile("^(?:" + pattern[1:len(pattern)-1] + ")$")
		return err == nil && re.MatchString(dn)
	}
	if !strings.Contains(pattern, "*") {
		return pattern == dn
	}
	quoted := regexp.QuoteMeta(pattern)
	re := regexp.MustCompile("^" + strings.ReplaceAll(quoted, `\*`, ".*") + "$")
	return re.MatchString(dn)
}

// NodesDN reads the nodes' plugins.security.nodes_dn settings (_nodes/settings).
func (c *Client) NodesDN(ctx context.Context) (NodesDNSettings, error) {
	var res struct {
		Nodes map[string]struct {
			Settings map[string]any `json:"settings"`
		} `json:"nodes"`
	}
	// filter_path cannot select a flat (dotted) key: every node's settings are read.
	q := url.Values{"flat_settings": {"true"}, "filter_path": {"nodes.*.settings"}}
	if err := c.do(ctx, request{op: "read the nodes' nodes_dn", method: http.MethodGet, path: "/_nodes/settings", query: q}, &res); err != nil {
		return NodesDNSettings{}, err
	}
	var s NodesDNSettings
	for _, n := range res.Nodes {
		for k, v := range n.Settings {
			switch {
			case k == "plugins.security.nodes_dn_dynamic_config_enabled":
				s.Dynamic = s.Dynamic || fmt.Sprint(v) == "true"
			case k == "plugins.security.nodes_dn" || strings.HasPrefix(k, "plugins.security.nodes_dn."):
				switch v := v.(type) {
				case string:
					s.NodesDN = append(s.NodesDN, v)
				case []any:
					for _, e := range v {
						s.NodesDN = append(s.NodesDN, fmt.Sprint(e))
					}
				}
			}
		}
	}
	slices.Sort(s.NodesDN)
	s.NodesDN = slices.Compact(s.NodesDN)
	return s, nil
}

// deniedRE reads the security plugin's 403: "no permissions for [cluster:monitor/state] and
// User [name=osccr, backend_roles=[], requestedTenant=null]".
var deniedRE = regexp.MustCompile(`no permissions for \[(.*?)\] and User \[name=([^,\]]*)`)

// MissingPermission reports, for an error the security plugin answered 403 to for want of a
// permission, which permission (or permissions) and which user: what a role must grant.
func MissingPermission(err error) (permission, user string, ok bool) {
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusForbidden {
		return "", "", false
	}
	m := deniedRE.FindStringSubmatch(e.Reason)
	if m == nil {
		return "", "", false
	}
	return m[1], strings.TrimSpace(m[2]), true
}
