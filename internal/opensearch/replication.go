package opensearch

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// The cross-cluster-replication plugin's REST API. Every call goes to the FOLLOWER cluster
// (LeaderStats excepted); the follower reaches the leader over the remote-cluster connection
// set up with SetRemoteCluster. Paths and bodies follow the plugin's REST handlers
// (org.opensearch.replication.rest).
const replicationPath = "/_plugins/_replication"

// StartReplication makes followerIndex (which must not exist) a follower of the leader index
// and returns once the initial copy has begun (or finished, with WaitForRestore); poll
// ReplicationStatus until StatusSyncing. An existing follower index gives ErrAlreadyExists; a
// missing leader index ErrNotFound; an unknown or unreachable leader ErrLeaderUnreachable.
func (c *Client) StartReplication(ctx context.Context, followerIndex string, req StartReplicationRequest) error {
	op := fmt.Sprintf("start replication of %q", followerIndex)
	if err := checkName(op, "follower index", followerIndex); err != nil {
		return err
	}
	if err := checkName(op, "leader alias", req.LeaderAlias); err != nil {
		return err
	}
	if err := checkName(op, "leader index", req.LeaderIndex); err != nil {
		return err
	}
	if err := checkRoles(op, req.UseRoles); err != nil {
		return err
	}
	body := map[string]any{"leader_alias": req.LeaderAlias, "leader_index": req.LeaderIndex}
	if req.UseRoles != nil {
		body["use_roles"] = req.UseRoles
	}
	if len(req.Settings) > 0 {
		body["settings"] = req.Settings
	}
	q := url.Values{}
	if req.WaitForRestore {
		q.Set("wait_for_restore", "true")
	}
	r := request{op: op, method: http.MethodPut, path: replicationPath + escape(followerIndex, "_start"), query: q, body: body, api: apiReplication}
	return c.do(ctx, r, nil)
}

func checkRoles(op string, roles *ReplicationRoles) error {
	if roles != nil && (roles.LeaderClusterRole == "" || roles.FollowerClusterRole == "") {
		return requestError(op, "use_roles needs both a leader and a follower cluster role")
	}
	return nil
}

// ReplicationStatus reads a follower index's replication status. An index that is not a
// follower reports StatusNotInProgress (not an error). While the leader cannot be reached the
// plugin answers 5xx: that is ErrLeaderUnreachable.
func (c *Client) ReplicationStatus(ctx context.Context, followerIndex string) (ReplicationStatus, error) {
	op := fmt.Sprintf("replication status of %q", followerIndex)
	if err := checkName(op, "follower index", followerIndex); err != nil {
		return ReplicationStatus{}, err
	}
	var res struct {
		Status         Status            `json:"status"`
		Reason         string            `json:"reason"`
		LeaderAlias    string            `json:"leader_alias"`
		LeaderIndex    string            `json:"leader_index"`
		FollowerIndex  string            `json:"follower_index"`
		SyncingDetails *SyncingDetails   `json:"syncing_details"`
		Bootstrap      *BootstrapDetails `json:"bootstrap_details"`
	}
	r := request{op: op, method: http.MethodGet, path: replicationPath + escape(followerIndex, "_status"), api: apiReplicationStatus}
	if err := c.do(ctx, r, &res); err != nil {
		return ReplicationStatus{}, err
	}
	st := ReplicationStatus{
		Status:        res.Status,
		Reason:        res.Reason,
		LeaderAlias:   res.LeaderAlias,
		LeaderIndex:   res.LeaderIndex,
		FollowerIndex: res.FollowerIndex,
		Bootstrap:     res.Bootstrap,
	}
	if res.SyncingDetails != nil {
		st.SyncingDetails = *res.SyncingDetails
	}
	if st.FollowerIndex == "" {
		st.FollowerIndex = followerIndex
	}
	return st, nil
}

// PauseReplication pauses a follower index (it keeps refusing writes). The plugin refuses while
// the index is bootstrapping. Pausing a paused index gives ErrAlreadyExists; an index that is not
// a follower ErrReplicationNotInProgress.
func (c *Client) PauseReplication(ctx context.Context, followerIndex string) error {
	return c.replicationAction(ctx, "pause", followerIndex, "_pause")
}

// ResumeReplication resumes a paused follower index. Resuming a running one gives
// ErrAlreadyExists; a pause that outlived the leader's retention lease gives
// ErrRetentionLeaseExpired (stop, delete and start again).
func (c *Client) ResumeReplication(ctx context.Context, followerIndex string) error {
	return c.replicationAction(ctx, "resume", followerIndex, "_resume")
}

// StopReplication ends replication for good: the follower index becomes an ordinary writable
// index. Starting again needs the index deleted first. An index that is not a follower gives
// ErrReplicationNotInProgress.
func (c *Client) StopReplication(ctx context.Context, followerIndex string) error {
	return c.replicationAction(ctx, "stop", followerIndex, "_stop")
}

func (c *Client) replicationAction(ctx context.Context, verb, followerIndex, endpoint string) error {
	op := fmt.Sprintf("%s replication of %q", verb, followerIndex)
	if err := checkName(op, "follower index", followerIndex); err != nil {
		return err
	}
	// The plugin requires a body, even an empty one.
	r := request{op: op, method: http.MethodPost, path: replicationPath + escape(followerIndex, endpoint), body: map[string]any{}, api: apiReplication}
	return c.do(ctx, r, nil)
}

// UpdateReplicationSettings changes settings of a follower index, which refuses a plain
// PutIndexSettings while it replicates (the plugin would also overwrite them from the leader).
// Settings changed this way stop following the leader's value.
func (c *Client) UpdateReplicationSettings(ctx context.Context, followerIndex string, settings map[string]any) error {
	op := fmt.Sprintf("update replication settings of %q", followerIndex)
	if err := checkName(op, "follower index", followerIndex); err != nil {
		return err
	}
	if len(settings) == 0 {
		return requestError(op, "no settings given")
	}
	body := map[string]any{"settings": settings}
	r := request{op: op, method: http.MethodPut, path: replicationPath + escape(followerIndex, "_update"), body: body, api: apiReplication}
	return c.do(ctx, r, nil)
}

// StartAutofollow adds an autofollow rule: the follower starts replicating leader indexes that
// match the pattern, checking every plugins.replication.autofollow.fetch_poll_interval (30 s or
// more). Too slow to rely on for "every index now": start those with StartReplication.
func (c *Client) StartAutofollow(ctx context.Context, rule AutofollowRule) error {
	op := fmt.Sprintf("start autofollow %q", rule.Name)
	if err := checkName(op, "leader alias", rule.LeaderAlias); err != nil {
		return err
	}
	if err := checkName(op, "autofollow rule", rule.Name); err != nil {
		return err
	}
	if rule.Pattern == "" {
		return requestError(op, "pattern is empty")
	}
	if err := checkRoles(op, rule.UseRoles); err != nil {
		return err
	}
	body := map[string]any{"leader_alias": rule.LeaderAlias, "name": rule.Name, "pattern": rule.Pattern}
	if rule.UseRoles != nil {
		body["use_roles"] = rule.UseRoles
	}
	if len(rule.Settings) > 0 {
		body["settings"] = rule.Settings
	}
	r := request{op: op, method: http.MethodPost, path: replicationPath + "/_autofollow", body: body, api: apiReplication}
	return c.do(ctx, r, nil)
}

// DeleteAutofollow removes an autofollow rule. Indexes it started keep replicating.
func (c *Client) DeleteAutofollow(ctx context.Context, leaderAlias, name string) error {
	op := fmt.Sprintf("delete autofollow %q", name)
	if err := checkName(op, "leader alias", leaderAlias); err != nil {
		return err
	}
	if err := checkName(op, "autofollow rule", name); err != nil {
		return err
	}
	body := map[string]any{"leader_alias": leaderAlias, "name": name}
	r := request{op: op, method: http.MethodDelete, path: replicationPath + "/_autofollow", body: body, api: apiReplication}
	return c.do(ctx, r, nil)
}

// FollowerStats reads the follower cluster's replication counters.
func (c *Client) FollowerStats(ctx context.Context) (FollowerStats, error) {
	var s FollowerStats
	r := request{op: "follower stats", method: http.MethodGet, path: replicationPath + "/follower_stats", api: apiReplication}
	err := c.do(ctx, r, &s)
	return s, err
}

// LeaderStats reads what followers have read from this cluster: call it on the LEADER.
func (c *Client) LeaderStats(ctx context.Context) (LeaderStats, error) {
	var s LeaderStats
	r := request{op: "leader stats", method: http.MethodGet, path: replicationPath + "/leader_stats", api: apiReplication}
	err := c.do(ctx, r, &s)
	return s, err
}

// AutofollowStats reads the follower's autofollow counters.
func (c *Client) AutofollowStats(ctx context.Context) (AutofollowStats, error) {
	var s AutofollowStats
	r := request{op: "autofollow stats", method: http.MethodGet, path: replicationPath + "/autofollow_stats", api: apiReplication}
	err := c.do(ctx, r, &s)
	return s, err
}
