package opensearch

import (
	"context"
	"fmt"
	"net"
	"net/http"
)

// SetRemoteCluster points the remote-cluster connection named alias at seeds (host:transport_port
// of leader nodes), in sniff mode, as a persistent cluster setting. Setting the same seeds again
// changes nothing, so the call is safe to repeat. The connection is made in the background: poll
// RemoteInfo for Connected.
func (c *Client) SetRemoteCluster(ctx context.Context, alias string, seeds []string) error {
	op := fmt.Sprintf("set remote cluster %q", alias)
	if err := checkName(op, "remote cluster", alias); err != nil {
		return err
	}
	if len(seeds) == 0 {
		return requestError(op, "no seeds given (want host:transport_port of leader nodes)")
	}
	for _, s := range seeds {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return requestError(op, fmt.Sprintf("seed %q is not host:port", s))
		}
	}
	body := map[string]any{"persistent": map[string]any{
		"cluster.remote." + alias + ".seeds": seeds,
	}}
	return c.do(ctx, request{op: op, method: http.MethodPut, path: "/_cluster/settings", body: body}, nil)
}

// RemoveRemoteCluster removes the remote-cluster connection named alias (all its settings).
// Removing a connection that does not exist is not an error. Follower indexes that use the
// connection lose their leader: stop or pause them first.
func (c *Client) RemoveRemoteCluster(ctx context.Context, alias string) error {
	op := fmt.Sprintf("remove remote cluster %q", alias)
	if err := checkName(op, "remote cluster", alias); err != nil {
		return err
	}
	prefix := "cluster.remote." + alias + "."
	body := map[string]any{"persistent": map[string]any{
		prefix + "seeds":            nil,
		prefix + "mode":             nil,
		prefix + "proxy_address":    nil,
		prefix + "skip_unavailable": nil,
	}}
	return c.do(ctx, request{op: op, method: http.MethodPut, path: "/_cluster/settings", body: body}, nil)
}

// RemoteInfo lists the cluster's remote-cluster connections by alias.
func (c *Client) RemoteInfo(ctx context.Context) (map[string]RemoteCluster, error) {
	var res map[string]RemoteCluster
	if err := c.do(ctx, request{op: "remote cluster info", method: http.MethodGet, path: "/_remote/info"}, &res); err != nil {
		return nil, err
	}
	if res == nil {
		res = map[string]RemoteCluster{}
	}
	return res, nil
}
