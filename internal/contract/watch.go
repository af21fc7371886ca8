package contract

import (
	"time"

	"github.com/osccr/osccr/internal/lag"
)

// Health statuses of a ClusterHealth: OpenSearch's own colours, plus HealthUnreachable when the
// cluster did not answer (internal/provision reports the same).
const (
	HealthGreen       = "green"
	HealthYellow      = "yellow"
	HealthRed         = "red"
	HealthUnreachable = "unreachable"
)

// WatchInput asks WatchLeader to watch a leader and its follower.
type WatchInput struct {
	Leader   ClusterRef `json:"leader"`
	Follower ClusterRef `json:"follower"`
	// Known is the observation the caller last acted on: the watch returns as soon as what it
	// sees differs. Nil returns the first observation at once.
	Known *Observation `json:"known,omitempty"`
	// Followed are the follower indexes osccr replicates: the watch reports those the plugin
	// has paused or failed.
	Followed []string `json:"followed,omitempty"`
	// MaxWait ends a watch that saw no change; 0 means DefaultWatchMaxWait.
	MaxWait time.Duration `json:"max_wait,omitempty"`
}

// Observation is what WatchLeader saw of both clusters.
type Observation struct {
	// Leader is what the leader showed when it last answered; nil until it has answered once.
	Leader *LeaderView `json:"leader,omitempty"`
	// LeaderError says why the leader has not been answering lately; "" when it answers.
	LeaderError string `json:"leader_error,omitempty"`
	// Follower is the follower cluster's health.
	Follower ClusterHealth `json:"follower"`
	// Halted are the followed indexes the plugin reports PAUSED or FAILED, with its reason:
	// paused by osccr, by the plugin itself (a leader index closed or deleted), or failed.
	Halted map[string]IndexStatus `json:"halted,omitempty"`
	// LeaderMetadataVersion is the leader's metadata version the leader view was read at (or
	// after), the next watch's starting point; never compared.
	LeaderMetadataVersion int64 `json:"leader_metadata_version,omitempty"`
}

// LeaderView is the leader cluster as a whole-cluster follower sees it.
type LeaderView struct {
	// Indexes maps every leader index, excluded ones too, to its UUID: a deleted index is
	// missing, a recreated one has a new UUID.
	Indexes map[string]string `json:"indexes"`
	// Replicate are the indexes a whole-cluster follower replicates, sorted; Excluded the others
	// with the reason (the same sorting as ListLeaderIndexes).
	Replicate []string    `json:"replicate"`
	Excluded  []Exclusion `json:"excluded"`
	// Templates fingerprints the leader's configuration that SyncTemplates copies: index and
	// component templates, ingest and search pipelines, stored scripts (dot-prefixed ones left
	// out, as SyncTemplates leaves them), the copied cluster settings and the ISM policies: it
	// changes when one is created, changed or deleted.
	Templates string `json:"templates"`
	// ISM fingerprints the leader's ISM policies alone ("" when it has none), which the watch
	// polls (they live in an index, not in the cluster's metadata).
	ISM string `json:"ism,omitempty"`
}

// ClusterHealth is a cluster's health as the watch reports it.
type ClusterHealth struct {
	// Status is green, yellow, red or unreachable; "" before the first look.
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Unhealthy reports whether the cluster is red or does not answer: replication must pause.
func (h ClusterHealth) Unhealthy() bool {
	return h.Status == HealthRed || h.Status == HealthUnreachable
}

// Reachable reports whether the cluster answers (or has not been looked at yet).
func (h ClusterHealth) Reachable() bool { return h.Status != HealthUnreachable }

// Timing a caller of WatchLeader gives it.
const (
	// DefaultWatchMaxWait ends a watch that saw no change, so that the workflow running it
	// gets a chance to continue as new.
	DefaultWatchMaxWait = 2 * time.Minute
	// WatchHeartbeatTimeout is the heartbeat timeout a caller should give the watch: it
	// heartbeats on every look, so a dead worker is noticed this quickly.
	WatchHeartbeatTimeout = 10 * time.Second
)

// WatchSampleVersion is the version of the WatchSample a watch of this code heartbeats. A
// heartbeat of an older watch decodes with Version 0: the watch's liveness and Lag only, no
// per-index figures.
const WatchSampleVersion = 1

// WatchSample is the heartbeat of WatchLeader: the latest live figures of a follower, read by
// the watch from both clusters. It is never in a workflow's history: the control plane reads
// the pending watch's last heartbeat (DescribeWorkflowExecution), which adds no event, and
// decodes it with workflows.LiveFigures.
type WatchSample struct {
	// Version is WatchSampleVersion of the watch that wrote it (0: older than versions).
	Version int `json:"version,omitempty"`
	// SampledAt is when the figures were read: the follower's checkpoints (the later of the two
	// reads of a sample). Zero until the first sample.
	SampledAt time.Time `json:"sampled_at,omitzero"`
	// Polls, LeaderIndexes, Follower and LeaderError say the watch is alive and what it sees.
	Polls         int    `json:"polls"`
	LeaderIndexes int    `json:"leader_indexes"`
	Follower      string `json:"follower"`
	LeaderError   string `json:"leader_error,omitempty"`
	// Lag is the follower's lag in seconds and operations, as this worker's samples give it.
	Lag *lag.Follower `json:"lag,omitempty"`
	// LeaderUnreachable says the leader did not answer the last sample: the leader checkpoints
	// are then the last it answered, at LeaderSeenAt (zero: never seen by this watch's worker).
	LeaderUnreachable bool      `json:"leader_unreachable,omitempty"`
	LeaderSeenAt      time.Time `json:"leader_seen_at,omitzero"`
	// Indexes are the live figures of every followed index, by name (Version 1).
	Indexes map[string]IndexSample `json:"indexes,omitempty"`
}

// IndexSample is one follower index in a WatchSample.
type IndexSample struct {
	// State is the plugin's last known overall state of the follower index (RUNNING, PAUSED,
	// FAILED), as the follower's cluster state holds it; "" when the watch could not read it.
	State  string `json:"state,omitempty"`
	Reason string `json:"reason,omitempty"`
	// LeaderCheckpoint is the leader index's global checkpoint, and FollowerCheckpoint what the
	// follower index has of it, summed over the primary shards, shard by shard (a follower
	// shard ahead of its leader shard's sampled checkpoint counts as level with it): the
	// clusters' own checkpoints, not the plugin's (which trail and freeze with the leader gone).
	LeaderCheckpoint   int64 `json:"leader_checkpoint"`
	FollowerCheckpoint int64 `json:"follower_checkpoint"`
	// HasFollower says the follower's checkpoints of the index were read (it exists there).
	HasFollower bool `json:"has_follower,omitempty"`
}
