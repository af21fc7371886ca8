package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/lag"
	"github.com/osccr/osccr/internal/opensearch"
)

// replicationAPI is the cross-cluster-replication plugin of a follower, the remote clusters it
// reaches its leaders by, and its persistent cluster settings (the plugin's are among them).
type replicationAPI interface {
	StartReplication(ctx context.Context, followerIndex string, req opensearch.StartReplicationRequest) error
	PauseReplication(ctx context.Context, followerIndex string) error
	ResumeReplication(ctx context.Context, followerIndex string) error
	StopReplication(ctx context.Context, followerIndex string) error
	ReplicationStatus(ctx context.Context, followerIndex string) (opensearch.ReplicationStatus, error)
	ReplicationStates(ctx context.Context) (map[string]opensearch.Status, error)
	RemoteInfo(ctx context.Context) (map[string]opensearch.RemoteCluster, error)
	SetRemoteCluster(ctx context.Context, alias string, seeds []string) error
	RemoveRemoteCluster(ctx context.Context, alias string) error
	PutPersistentClusterSettings(ctx context.Context, settings map[string]any) error
}

// pollInterval is how often the waiting activities look at the cluster. They heartbeat on every
// look, so a dead worker is noticed within the heartbeat timeout and the wait moves elsewhere.
const pollInterval = 250 * time.Millisecond

// MetadataSyncInterval is how often the CCR plugin copies a follower index's settings, aliases
// and changed mappings from its leader index: the plugin's minimum (its default is 60 s).
const MetadataSyncInterval = "5s"

// metadataSyncSetting is the follower's dynamic cluster setting for MetadataSyncInterval.
const metadataSyncSetting = "plugins.replication.follower.metadata_sync_interval"

// ConnectRemote points the follower's remote-cluster connection named LeaderAlias at the
// leader's transport address, makes the follower's CCR plugin sync metadata every
// MetadataSyncInterval (when the plugin is there: without it StartReplication says what is
// missing), and waits until the follower reports the connection up. Setting the same values
// again is harmless, so a retry after a crash is safe.
func (a *Activities) ConnectRemote(ctx context.Context, in contract.ConnectInput) error {
	if in.Leader.TransportAddress == "" {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("leader %s has no transport address: the follower connects to it on the transport port (9300 by default)", in.Leader.Name),
			contract.ErrTypeBadRequest, nil)
	}
	follower, err := a.client(in.Follower)
	if err != nil {
		return err
	}
	if err := follower.SetRemoteCluster(ctx, in.LeaderAlias, []string{in.Leader.TransportAddress}); err != nil {
		return classify(fmt.Errorf("connect %s to leader %s: %w", in.Follower.Name, in.Leader.Name, err))
	}
	plugins, err := follower.Plugins(ctx)
	if err != nil {
		return classify(fmt.Errorf("list plugins of %s: %w", in.Follower.Name, err))
	}
	if slices.Contains(plugins, opensearch.CCRPluginName) {
		if err := follower.PutPersistentClusterSettings(ctx, map[string]any{metadataSyncSetting: MetadataSyncInterval}); err != nil {
			return classify(fmt.Errorf("set the metadata sync interval of %s: %w", in.Follower.Name, err))
		}
	}
	return poll(ctx, func() (bool, any, error) {
		remotes, err := follower.RemoteInfo(ctx)
		if err != nil {
			return false, nil, forbidden(err) // transient: keep looking until the deadline
		}
		r, ok := remotes[in.LeaderAlias]
		return ok && r.Connected, r, nil
	})
}

// StartReplication asks again every startRetryEvery, for up to startRetryFor, while the
// follower answers that it cannot start replication now; then the activity's retry policy takes
// over.
const (
	startRetryEvery = 100 * time.Millisecond
	startRetryFor   = 5 * time.Second
)

// StartReplication starts replicating LeaderIndex into FollowerIndex. When the follower index
// already replicates that leader index (a retry after a crash) it succeeds without a change;
// when the follower index exists for any other reason it fails without touching it.
func (a *Activities) StartReplication(ctx context.Context, in contract.IndexInput) error {
	follower, err := a.client(in.Follower)
	if err != nil {
		return err
	}
	req := opensearch.StartReplicationRequest{LeaderAlias: in.LeaderAlias, LeaderIndex: in.LeaderIndex}
	if in.Follower.Secured(in.Follower.URL) {
		// With the security plugin, every start names the roles the replication runs with on
		// each side (the plugin's built-in ones, mapped to the replication user there).
		req.UseRoles = &opensearch.ReplicationRoles{LeaderClusterRole: RoleReplicationLeader, FollowerClusterRole: RoleReplicationFollower}
	}
	// ISM stays off a follower index while it replicates (a copied policy's ism_template would
	// otherwise start managing it, and roll it over or delete it under the plugin); the
	// plugin keeps this setting over the leader's. StopReplication turns it back on.
	if plugins, err := follower.Plugins(ctx); err != nil {
		return classify(fmt.Errorf("start replication of %s into %s on %s: list its plugins: %w", in.LeaderIndex, in.FollowerIndex, in.Follower.Name, err))
	} else if slices.Contains(plugins, ismPlugin) {
		req.Settings = map[string]any{opensearch.ISMAutoManage: false, opensearch.ISMAutoManageLegacy: false}
	}
	err = follower.StartReplication(ctx, in.FollowerIndex, req)
	// A leader index seen the moment it was created may not have its primaries active yet: the
	// plugin refuses it as unavailable, and accepts it moments later. Ask again at once rather
	// than after the activity's retry backoff: a new index should be replicated within seconds.
	for began := time.Now(); errors.Is(err, opensearch.ErrUnavailable) && time.Since(began) < startRetryFor; {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(startRetryEvery):
		}
		err = follower.StartReplication(ctx, in.FollowerIndex, req)
	}
	if errors.Is(err, opensearch.ErrAlreadyExists) {
		st, serr := follower.ReplicationStatus(ctx, in.FollowerIndex)
		if serr == nil && st.Replicating() && st.LeaderIndex == in.LeaderIndex {
			return nil
		}
		return classify(fmt.Errorf("start replication of %s into %s on %s: the follower index already exists and is not replicating it; delete it or choose another name: %w",
			in.LeaderIndex, in.FollowerIndex, in.Follower.Name, err))
	}
	if err != nil {
		return classify(fmt.Errorf("start replication of %s into %s on %s: %w", in.LeaderIndex, in.FollowerIndex, in.Follower.Name, err))
	}
	return nil
}

// The security plugin's built-in roles a secured replication runs with, passed as use_roles.
const (
	RoleReplicationLeader   = "cross_cluster_replication_leader_full_access"
	RoleReplicationFollower = "cross_cluster_replication_follower_full_access"
)

// WaitSyncing waits, heartbeating, until the follower index is SYNCING and has caught up with
// the leader, and returns that status. It fails at once when replication FAILED, with the
// plugin's reason.
//
// Caught up means, when the leader is known, that every primary shard of the follower index has
// applied every operation the leader's shard had acknowledged when the index was first seen
// SYNCING (local checkpoint at least that global checkpoint), and that the follower index was
// then refreshed so searches see them. The plugin's own lag can read zero just after a
// bootstrap, before its shard tasks have fetched from the leader; the shards' sequence numbers
// cannot. The goal is fixed once: while the leader keeps taking writes a follower is never
// exactly level with it, and a goal that moves with every look would never be reached.
func (a *Activities) WaitSyncing(ctx context.Context, in contract.IndexInput) (contract.IndexStatus, error) {
	follower, err := a.client(in.Follower)
	if err != nil {
		return contract.IndexStatus{}, err
	}
	var leader Cluster
	if in.Leader.URL != "" {
		if leader, err = a.client(in.Leader); err != nil {
			return contract.IndexStatus{}, err
		}
	}
	var last contract.IndexStatus
	var goal map[int]opensearch.ShardSeqNo
	err = poll(ctx, func() (bool, any, error) {
		st, err := follower.ReplicationStatus(ctx, in.FollowerIndex)
		if err != nil {
			if errors.Is(err, opensearch.ErrPluginMissing) {
				return false, nil, classify(err)
			}
			return false, nil, forbidden(err) // leader unreachable or restarting: keep waiting
		}
		last = toIndexStatus(in.FollowerIndex, st)
		if st.Status == opensearch.StatusFailed {
			return false, nil, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("replication of %s into %s failed: %s", in.LeaderIndex, in.FollowerIndex, st.Reason), contract.ErrTypeReplicationFailed, nil)
		}
		if st.Status != opensearch.StatusSyncing {
			return false, last, nil
		}
		if leader == nil {
			return last.LagOps() == 0, last, nil
		}
		if goal == nil {
			if goal, err = leader.PrimarySeqNos(ctx, in.LeaderIndex); err != nil || len(goal) == 0 {
				goal = nil
				return false, last, forbidden(err) // a node restarting: look again
			}
		}
		have, err := follower.PrimarySeqNos(ctx, in.FollowerIndex)
		if err != nil {
			return false, last, forbidden(err)
		}
		last.ShardsBehind = shardsBehind(goal, have)
		if last.ShardsBehind > 0 {
			return false, last, nil
		}
		// Applied is not yet searchable: refresh, so that a follower declared caught up answers
		// searches with every document (a refresh is allowed on a follower index).
		if err := follower.Refresh(ctx, in.FollowerIndex); err != nil {
			return false, last, forbidden(err)
		}
		return true, last, nil
	})
	if err == nil && leader != nil && a.Metrics != nil {
		a.recordPickup(ctx, leader, in)
	}
	return last, err
}

// pickupWindow: a leader index created longer ago than this was bootstrapped, not picked up.
const pickupWindow = 10 * time.Minute

// recordPickup records, for the worker's metrics, how long after its creation a new leader
// index was SYNCING and caught up on the follower.
func (a *Activities) recordPickup(ctx context.Context, leader Cluster, in contract.IndexInput) {
	def, err := leader.GetIndex(ctx, in.LeaderIndex)
	if err != nil {
		return
	}
	ms, err := strconv.ParseInt(def.Setting("index.creation_date"), 10, 64)
	if err != nil {
		return
	}
	if took := time.Since(time.UnixMilli(ms)); took >= 0 && took < pickupWindow {
		a.Metrics.Pickup(in.Follower.Name, took)
	}
}

// shardsBehind counts the leader's primary shards whose global checkpoint (in goal) the
// matching follower shard's local checkpoint (in have) has not reached; a shard missing from
// have is behind.
func shardsBehind(goal, have map[int]opensearch.ShardSeqNo) int {
	behind := 0
	for shard, g := range goal {
		if h, ok := have[shard]; !ok || h.LocalCheckpoint < g.GlobalCheckpoint {
			behind++
		}
	}
	return behind
}

// ReplicationStatus reads the status of one follower index.
func (a *Activities) ReplicationStatus(ctx context.Context, in contract.IndexInput) (contract.IndexStatus, error) {
	follower, err := a.client(in.Follower)
	if err != nil {
		return contract.IndexStatus{}, err
	}
	st, err := follower.ReplicationStatus(ctx, in.FollowerIndex)
	if err != nil {
		err = classify(fmt.Errorf("status of %s on %s: %w", in.FollowerIndex, in.Follower.Name, err))
		// The plugin answers its status with a 5xx while the leader is unreachable, which is
		// when what the follower lacks matters most: the failure carries the checkpoints.
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.NonRetryable() {
			return contract.IndexStatus{}, err
		}
		out := contract.IndexStatus{Index: in.FollowerIndex, Status: contract.StatusUnknown, Reason: err.Error()}
		a.lagSeconds(in, &out)
		if a.clusterCheckpoints(ctx, follower, in, &out) {
			return contract.IndexStatus{}, temporal.NewApplicationErrorWithCause(err.Error(), contract.ErrTypeStatusUnavailable, err, out)
		}
		return contract.IndexStatus{}, err
	}
	out := toIndexStatus(in.FollowerIndex, st)
	a.lagSeconds(in, &out)
	a.clusterCheckpoints(ctx, follower, in, &out)
	return out, nil
}

// lagSeconds sets the index's lag in seconds from the watch's samples, when this worker has
// them.
func (a *Activities) lagSeconds(in contract.IndexInput, out *contract.IndexStatus) {
	if a.Lag == nil {
		return
	}
	if l, ok := a.Lag.Lag(in.Follower.Name, time.Now()); ok {
		if ix, ok := l.Indexes[in.FollowerIndex]; ok {
			out.LagSeconds = &ix.Seconds
		}
	}
}

// leaderCheckpointTimeout bounds the read of the leader's checkpoints in ReplicationStatus: a
// leader that does not answer within it is taken as unreachable (the status is read while
// promoting away from a dead leader, and must not wait on it).
const leaderCheckpointTimeout = 1500 * time.Millisecond

// clusterCheckpoints replaces the plugin's checkpoints in out with the clusters' own, which
// are what a promotion loses. The plugin's leader_checkpoint is the leader's checkpoint as of
// the follower's last fetch: it trails the leader by every operation not yet fetched (ten
// seconds of writes at low write rates, see docs/rpo.md) and freezes when the leader goes, so
// it reads "0 behind" exactly when the follower lacks the most. Instead:
//
//  1. the follower's local checkpoints, read now (what the follower index holds);
//  2. the leader's global checkpoints, read now when it answers within
//     leaderCheckpointTimeout; the operations behind are then exact, shard by shard;
//  3. otherwise the most recent of the watch's last sample of the leader and the plugin's
//     leader_checkpoint, flagged LeaderUnreachable with when the leader was last seen: the
//     operations behind are then "at least".
//
// It reports whether it read the follower's checkpoints (else the plugin's figures stand).
func (a *Activities) clusterCheckpoints(ctx context.Context, follower Cluster, in contract.IndexInput, out *contract.IndexStatus) bool {
	have, err := follower.PrimarySeqNos(ctx, in.FollowerIndex)
	if err != nil || len(have) == 0 {
		return false
	}
	var sample lag.LeaderSample
	sampled := false
	if a.Lag != nil {
		sample, sampled = a.Lag.Latest(in.Follower.Name, in.FollowerIndex, time.Now())
	}
	if in.Leader.URL != "" && !(sampled && sample.LeaderDown) {
		if leader, err := a.client(in.Leader); err == nil {
			lctx, cancel := context.WithTimeout(ctx, leaderCheckpointTimeout)
			goal, err := leader.PrimarySeqNos(lctx, in.LeaderIndex)
			cancel()
			if err == nil && len(goal) > 0 {
				out.LeaderCheckpoint, out.FollowerCheckpoint = compareShards(goal, have)
				out.LeaderSeenAt = time.Now()
				return true
			}
		}
	}
	out.LeaderUnreachable = true
	out.FollowerCheckpoint = 0
	for _, h := range have {
		out.FollowerCheckpoint += h.LocalCheckpoint
	}
	if sampled {
		out.LeaderCheckpoint = max(out.LeaderCheckpoint, sample.Checkpoint)
		out.LeaderSeenAt = sample.LastContact
	}
	return true
}

// PauseReplication pauses a follower index; pausing a paused index is not an error.
func (a *Activities) PauseReplication(ctx context.Context, in contract.IndexInput) error {
	return a.transition(ctx, in, "pause", is(opensearch.StatusPaused), replicationAPI.PauseReplication)
}

// ResumeReplication resumes a paused follower index. Resuming one that is not paused (syncing,
// or still bootstrapping or restarting after its node came back) is not an error: a pause that
// never reached the plugin, because the follower was down, is lifted the same way.
func (a *Activities) ResumeReplication(ctx context.Context, in contract.IndexInput) error {
	running := func(s opensearch.Status) bool {
		return s == opensearch.StatusSyncing || s == opensearch.StatusBootstrapping || s == opensearch.StatusRunning
	}
	return a.transition(ctx, in, "resume", running, replicationAPI.ResumeReplication)
}

// StopReplication stops replication for good: the follower index becomes an ordinary, writable
// index. Stopping an index that no longer replicates, or that does not exist, is not an error.
//
// The index, an ordinary one now, is given back to ISM (restoreISM): auto_manage as its leader
// index has it, and the leader index's policy attached.
func (a *Activities) StopReplication(ctx context.Context, in contract.IndexInput) error {
	if err := a.stopReplication(ctx, in); err != nil {
		return err
	}
	follower, err := a.client(in.Follower)
	if err != nil {
		return err
	}
	var leader Cluster
	if in.Leader.URL != "" {
		if leader, err = a.client(in.Leader); err != nil {
			leader = nil // the leader's own word is optional: the follower's policies answer
		}
	}
	if _, err := restoreISM(ctx, leader, follower, in.LeaderIndex, in.FollowerIndex); err != nil && !errors.Is(err, opensearch.ErrNotFound) {
		return classify(fmt.Errorf("stop replication of %s on %s: %w", in.FollowerIndex, in.Follower.Name, err))
	}
	return nil
}

// ismPlugin is the ISM plugin's component name in _cat/plugins.
const ismPlugin = "opensearch-index-management"

// stopReplication stops the replication of a follower index; one that does not exist (or no
// longer replicates) is stopped already.
func (a *Activities) stopReplication(ctx context.Context, in contract.IndexInput) error {
	err := a.transition(ctx, in, "stop", is(opensearch.StatusNotInProgress), replicationAPI.StopReplication)
	if contract.HasErrorType(err, contract.ErrTypeNotFound) {
		return nil
	}
	return err
}

// RemoveFollowerIndex undoes the replication of a leader index that was deleted (or recreated,
// with a new UUID): the plugin leaves its follower index behind, paused. It stops replicating
// the follower index and deletes it. Both steps accept "already done", so a retry is safe. An
// index that replicates another leader index is refused and left alone.
func (a *Activities) RemoveFollowerIndex(ctx context.Context, in contract.IndexInput) error {
	follower, err := a.client(in.Follower)
	if err != nil {
		return err
	}
	st, err := follower.ReplicationStatus(ctx, in.FollowerIndex)
	if err == nil && st.Replicating() && st.LeaderIndex != "" && st.LeaderIndex != in.LeaderIndex {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("follower index %s on %s replicates %s, not %s: left alone", in.FollowerIndex, in.Follower.Name, st.LeaderIndex, in.LeaderIndex),
			contract.ErrTypeBadRequest, nil)
	}
	if err := a.stopReplication(ctx, in); err != nil {
		return err
	}
	if err := follower.DeleteIndex(ctx, in.FollowerIndex); err != nil && !errors.Is(err, opensearch.ErrNotFound) {
		return classify(fmt.Errorf("delete follower index %s on %s: %w", in.FollowerIndex, in.Follower.Name, err))
	}
	return nil
}

// transition applies a pause/resume/stop and treats "already there" (done says what that is)
// as success, so that a retry after a crash between the call and its recording in history does
// no harm.
func (a *Activities) transition(ctx context.Context, in contract.IndexInput, verb string, done func(opensearch.Status) bool,
	call func(replicationAPI, context.Context, string) error) error {
	follower, err := a.client(in.Follower)
	if err != nil {
		return err
	}
	err = call(follower, ctx, in.FollowerIndex)
	if err == nil {
		return nil
	}
	if st, serr := follower.ReplicationStatus(ctx, in.FollowerIndex); serr == nil && done(st.Status) {
		return nil
	}
	return classify(fmt.Errorf("%s replication of %s on %s: %w", verb, in.FollowerIndex, in.Follower.Name, err))
}

func is(want opensearch.Status) func(opensearch.Status) bool {
	return func(s opensearch.Status) bool { return s == want }
}

func toIndexStatus(index string, st opensearch.ReplicationStatus) contract.IndexStatus {
	return contract.IndexStatus{
		Index:              index,
		Status:             string(st.Status),
		Reason:             st.Reason,
		LeaderCheckpoint:   st.SyncingDetails.LeaderCheckpoint,
		FollowerCheckpoint: st.SyncingDetails.FollowerCheckpoint,
	}
}

// poll calls check every pollInterval, heartbeating what it saw, until check says done, returns
// an error, or ctx ends (the activity's start-to-close timeout).
// forbidden is err when the cluster denied osccr a permission (a 403 naming it), else nil: a
// wait that looks past a node restarting must not look past a missing permission, which no
// retry within the wait fixes. The activity fails with it (retryably: a role fixed by the
// operator lets the retry through) and the Web UI shows which permission and user.
func forbidden(err error) error {
	if _, _, ok := opensearch.MissingPermission(err); ok {
		return err
	}
	return nil
}

func poll(ctx context.Context, check func() (done bool, seen any, err error)) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		done, seen, err := check()
		if err != nil || done {
			return err
		}
		activity.RecordHeartbeat(ctx, seen)
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up waiting (last seen: %+v): %w", seen, ctx.Err())
		case <-tick.C:
		}
	}
}
