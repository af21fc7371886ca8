package contract

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
)

// ConnectInput names the follower to configure and the leader it must reach.
type ConnectInput struct {
	Follower    ClusterRef `json:"follower"`
	Leader      ClusterRef `json:"leader"`
	LeaderAlias string     `json:"leader_alias"`
}

// IndexInput names one follower index and the leader index it replicates.
type IndexInput struct {
	Follower ClusterRef `json:"follower"`
	// Leader, when set, lets WaitSyncing check the follower's sequence numbers against the
	// leader's own, not only the plugin's status.
	Leader        ClusterRef `json:"leader,omitzero"`
	LeaderAlias   string     `json:"leader_alias"`
	LeaderIndex   string     `json:"leader_index"`
	FollowerIndex string     `json:"follower_index"`
}

// IndexStatus is what osccr reports about one follower index.
type IndexStatus struct {
	Index              string `json:"index"`
	Status             string `json:"status"`
	Reason             string `json:"reason,omitempty"`
	LeaderCheckpoint   int64  `json:"leader_checkpoint"`
	FollowerCheckpoint int64  `json:"follower_checkpoint"`
	// ShardsBehind is how many primary shards had not yet applied every operation the leader's
	// had acknowledged, when WaitSyncing last compared them.
	ShardsBehind int `json:"shards_behind,omitempty"`
	// LagSeconds is how long ago the leader reached the checkpoint the follower index has now
	// reached (0: caught up; while the leader does not answer, the time since it last did),
	// from the checkpoints this worker's watch samples; nil when it has none.
	LagSeconds *float64 `json:"lag_seconds,omitempty"`
	// LeaderUnreachable says the leader did not answer: LeaderCheckpoint is then the most
	// recent known (the watch's last sample of the leader, or the plugin's last fetch), so
	// LagOps is a lower bound of what the follower lacks. LeaderSeenAt is when the leader last
	// answered the watch (zero when this worker never saw it).
	LeaderUnreachable bool      `json:"leader_unreachable,omitempty"`
	LeaderSeenAt      time.Time `json:"leader_seen_at,omitzero"`
}

// LagOps is how many operations the follower is behind the leader.
func (s IndexStatus) LagOps() int64 {
	if lag := s.LeaderCheckpoint - s.FollowerCheckpoint; lag > 0 {
		return lag
	}
	return 0
}

// StatusUnknown is the status of a follower index whose plugin status could not be read.
const StatusUnknown = "UNKNOWN"

// ErrTypeStatusUnavailable is a ReplicationStatus failure (retryable) that carries, as its
// details, the index's IndexStatus with its checkpoints (see StatusFromError).
const ErrTypeStatusUnavailable = "StatusUnavailable"

// StatusFromError returns the IndexStatus a failed ReplicationStatus carries (the plugin's
// status unknown, the clusters' checkpoints read); false when it carries none.
func StatusFromError(err error) (IndexStatus, bool) {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrTypeStatusUnavailable || !appErr.HasDetails() {
		return IndexStatus{}, false
	}
	var st IndexStatus
	if appErr.Details(&st) != nil {
		return IndexStatus{}, false
	}
	return st, true
}
