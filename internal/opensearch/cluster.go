package opensearch

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
)

// Info reads the cluster's name and OpenSearch version.
func (c *Client) Info(ctx context.Context) (ClusterInfo, error) {
	var res struct {
		Name        string `json:"name"`
		ClusterName string `json:"cluster_name"`
		ClusterUUID string `json:"cluster_uuid"`
		Version     struct {
			Distribution  string `json:"distribution"`
			Number        string `json:"number"`
			LuceneVersion string `json:"lucene_version"`
		} `json:"version"`
	}
	if err := c.do(ctx, request{op: "cluster info", method: http.MethodGet, path: "/"}, &res); err != nil {
		return ClusterInfo{}, err
	}
	return ClusterInfo{
		ClusterName:   res.ClusterName,
		ClusterUUID:   res.ClusterUUID,
		NodeName:      res.Name,
		Version:       res.Version.Number,
		Distribution:  res.Version.Distribution,
		LuceneVersion: res.Version.LuceneVersion,
	}, nil
}

// Health reads the cluster's health without waiting for any status.
func (c *Client) Health(ctx context.Context) (ClusterHealth, error) {
	var h ClusterHealth
	err := c.do(ctx, request{op: "cluster health", method: http.MethodGet, path: "/_cluster/health"}, &h)
	return h, err
}

// Nodes lists the cluster's nodes with their roles, heap and disk, ordered by name.
func (c *Client) Nodes(ctx context.Context) ([]NodeStats, error) {
	var res struct {
		Nodes map[string]struct {
			Name             string   `json:"name"`
			Host             string   `json:"host"`
			TransportAddress string   `json:"transport_address"`
			Roles            []string `json:"roles"`
			JVM              struct {
				Mem struct {
					HeapUsed int64 `json:"heap_used_in_bytes"`
					HeapMax  int64 `json:"heap_max_in_bytes"`
				} `json:"mem"`
			} `json:"jvm"`
			FS struct {
				Total struct {
					Total     int64 `json:"total_in_bytes"`
					Free      int64 `json:"free_in_bytes"`
					Available int64 `json:"available_in_bytes"`
				} `json:"total"`
			} `json:"fs"`
		} `json:"nodes"`
	}
	q := url.Values{"filter_path": {"nodes.*.name,nodes.*.host,nodes.*.transport_address,nodes.*.roles,nodes.*.jvm.mem,nodes.*.fs.total"}}
	if err := c.do(ctx, request{op: "node stats", method: http.MethodGet, path: "/_nodes/stats/jvm,fs", query: q}, &res); err != nil {
		return nil, err
	}
	nodes := make([]NodeStats, 0, len(res.Nodes))
	for id, n := range res.Nodes {
		nodes = append(nodes, NodeStats{
			ID:                 id,
			Name:               n.Name,
			Host:               n.Host,
			TransportAddress:   n.TransportAddress,
			Roles:              n.Roles,
			HeapUsedBytes:      n.JVM.Mem.HeapUsed,
			HeapMaxBytes:       n.JVM.Mem.HeapMax,
			DiskTotalBytes:     n.FS.Total.Total,
			DiskFreeBytes:      n.FS.Total.Free,
			DiskAvailableBytes: n.FS.Total.Available,
		})
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	return nodes, nil
}

// Plugins lists the distinct plugins installed on the cluster's nodes, sorted. A plugin missing
// from some nodes is listed too; compare with Nodes when that matters.
func (c *Client) Plugins(ctx context.Context) ([]string, error) {
	var rows []struct {
		Component string `json:"component"`
	}
	q := url.Values{"format": {"json"}, "h": {"name,component"}}
	if err := c.do(ctx, request{op: "list plugins", method: http.MethodGet, path: "/_cat/plugins", query: q}, &rows); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var names []string
	for _, r := range rows {
		if r.Component != "" && !seen[r.Component] {
			seen[r.Component] = true
			names = append(names, r.Component)
		}
	}
	sort.Strings(names)
	return names, nil
}

// Security modes of a cluster, as SecurityMode reads them.
const (
	// SecurityNone: no security plugin, or it is disabled: plain HTTP and transport.
	SecurityNone = "none"
	// SecuritySSLOnly: the security plugin encrypts transport and HTTP, without authentication.
	SecuritySSLOnly = "ssl_only"
	// SecurityFull: TLS and authentication.
	SecurityFull = "full"
)

// SecurityMode says how the cluster's nodes run the security plugin, read from their settings
// (_nodes/settings): transport TLS is invisible over REST, and both sides of a replication
// must agree on it. Nodes that disagree among themselves are reported as the strictest mode.
func (c *Client) SecurityMode(ctx context.Context) (string, error) {
	var res struct {
		Nodes map[string]struct {
			Plugins []struct {
				Name string `json:"name"`
			} `json:"plugins"`
			Settings map[string]any `json:"settings"`
		} `json:"nodes"`
	}
	// filter_path cannot select a flat (dotted) key such as plugins.security.ssl_only: every
	// node's settings are read.
	q := url.Values{"flat_settings": {"true"}, "filter_path": {"nodes.*.settings,nodes.*.plugins.name"}}
	if err := c.do(ctx, request{op: "read node settings", method: http.MethodGet, path: "/_nodes/settings,plugins", query: q}, &res); err != nil {
		return "", err
	}
	rank := map[string]int{SecurityNone: 0, SecuritySSLOnly: 1, SecurityFull: 2}
	mode := SecurityNone
	for _, n := range res.Nodes {
		m := SecurityNone
		for _, p := range n.Plugins {
			if p.Name == "opensearch-security" {
				m = SecurityFull
			}
		}
		switch {
		case m == SecurityNone:
		case fmt.Sprint(n.Settings["plugins.security.disabled"]) == "true":
			m = SecurityNone
		case fmt.Sprint(n.Settings["plugins.security.ssl_only"]) == "true":
			m = SecuritySSLOnly
		}
		if rank[m] > rank[mode] {
			mode = m
		}
	}
	return mode, nil
}

// ClusterSettings reads the explicitly set persistent and transient cluster settings, with flat
// keys.
func (c *Client) ClusterSettings(ctx context.Context) (ClusterSettings, error) {
	var s ClusterSettings
	q := url.Values{"flat_settings": {"true"}}
	if err := c.do(ctx, request{op: "get cluster settings", method: http.MethodGet, path: "/_cluster/settings", query: q}, &s); err != nil {
		return ClusterSettings{}, err
	}
	if s.Persistent == nil {
		s.Persistent = map[string]any{}
	}
	if s.Transient == nil {
		s.Transient = map[string]any{}
	}
	return s, nil
}

// PutPersistentClusterSettings sets persistent cluster settings; a nil value removes a setting.
func (c *Client) PutPersistentClusterSettings(ctx context.Context, settings map[string]any) error {
	if len(settings) == 0 {
		return requestError("put cluster settings", "no settings given")
	}
	body := map[string]any{"persistent": settings}
	return c.do(ctx, request{op: "put cluster settings", method: http.MethodPut, path: "/_cluster/settings", body: body}, nil)
}

// RESTRequests is how many REST requests the cluster's nodes have served since they started,
// summed over every REST action (`_nodes/usage`): what a client costs a cluster, counted by the
// cluster itself.
func (c *Client) RESTRequests(ctx context.Context) (int64, error) {
	var res struct {
		Nodes map[string]struct {
			RESTActions map[string]int64 `json:"rest_actions"`
		} `json:"nodes"`
	}
	if err := c.do(ctx, request{op: "read REST usage", method: http.MethodGet, path: "/_nodes/usage"}, &res); err != nil {
		return 0, err
	}
	var n int64
	for _, node := range res.Nodes {
		for _, count := range node.RESTActions {
			n += count
		}
	}
	return n, nil
}
