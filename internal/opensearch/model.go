package opensearch

import (
	"encoding/json"
	"fmt"
	"sort"
)

// CCRPluginName is the cross-cluster-replication plugin as Plugins lists it.
const CCRPluginName = "opensearch-cross-cluster-replication"

// ClusterInfo is what the cluster's root endpoint says about it.
type ClusterInfo struct {
	ClusterName   string
	ClusterUUID   string
	NodeName      string // the node that answered
	Version       string // OpenSearch version, e.g. 2.19.6
	Distribution  string // "opensearch"
	LuceneVersion string
}

// HealthStatus is a cluster or index health colour.
type HealthStatus string

// Health colours, from best to worst.
const (
	HealthGreen  HealthStatus = "green"
	HealthYellow HealthStatus = "yellow"
	HealthRed    HealthStatus = "red"
)

// ClusterHealth is the cluster's health summary.
type ClusterHealth struct {
	ClusterName         string       `json:"cluster_name"`
	Status              HealthStatus `json:"status"`
	TimedOut            bool         `json:"timed_out"`
	NumberOfNodes       int          `json:"number_of_nodes"`
	NumberOfDataNodes   int          `json:"number_of_data_nodes"`
	ActivePrimaryShards int          `json:"active_primary_shards"`
	ActiveShards        int          `json:"active_shards"`
	RelocatingShards    int          `json:"relocating_shards"`
	InitializingShards  int          `json:"initializing_shards"`
	UnassignedShards    int          `json:"unassigned_shards"`
	PendingTasks        int          `json:"number_of_pending_tasks"`
}

// NodeStats is one node's identity, roles and resource use.
type NodeStats struct {
	ID               string
	Name             string
	Host             string
	TransportAddress string
	Roles            []string
	HeapUsedBytes    int64
	HeapMaxBytes     int64
	DiskTotalBytes   int64
	DiskFreeBytes    int64 // free on the file system
	// DiskAvailableBytes is what the node may still use (free minus reserved blocks).
	DiskAvailableBytes int64
}

// ClusterSettings are the cluster's explicitly set settings with flat keys
// ("cluster.remote.leader.seeds"). Values are strings, or lists of strings.
type ClusterSettings struct {
	Persistent map[string]any `json:"persistent"`
	Transient  map[string]any `json:"transient"`
}

// IndexSummary is one index as the index listing shows it.
type IndexSummary struct {
	Name   string
	UUID   string
	Health HealthStatus // empty when OpenSearch does not say
	Status string       // "open" or "close"
	// DocsCount counts Lucene documents (nested documents included); 0 for a closed index.
	DocsCount  int64
	StoreBytes int64 // all copies
	Primaries  int
	Replicas   int
	// Hidden is index.hidden; dot-prefixed indexes are not necessarily hidden, see IsDotIndex.
	Hidden bool
}

// IsDotIndex reports whether the index name starts with a dot (system and plugin indexes).
func (s IndexSummary) IsDotIndex() bool { return len(s.Name) > 0 && s.Name[0] == '.' }

// IndexDefinition is an index's metadata: what it takes to create the same index elsewhere.
type IndexDefinition struct {
	Name string
	// Aliases maps alias name to its definition (filter, routing, is_write_index...).
	Aliases map[string]json.RawMessage
	// Mappings is the mapping as OpenSearch returns it ({"properties": ...}).
	Mappings json.RawMessage
	// Settings are the index settings with flat keys ("index.number_of_shards"), values as
	// OpenSearch returns them (strings, or lists of strings).
	Settings map[string]any
}

// Setting returns a flat setting as a string ("" when unset or not a plain value).
func (d IndexDefinition) Setting(key string) string {
	s, _ := d.Settings[key].(string)
	return s
}

// Doc is one document to index.
type Doc struct {
	ID     string
	Source any // JSON-encoded; json.RawMessage is sent as is
}

// DocsFromMap turns id -> source into docs ordered by id, so that bulk requests are
// deterministic.
func DocsFromMap(m map[string]any) []Doc {
	docs := make([]Doc, 0, len(m))
	for id, src := range m {
		docs = append(docs, Doc{ID: id, Source: src})
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].ID < docs[j].ID })
	return docs
}

// AliasOp is the kind of an alias action.
type AliasOp string

// Alias actions.
const (
	AliasAdd         AliasOp = "add"
	AliasRemove      AliasOp = "remove"
	AliasRemoveIndex AliasOp = "remove_index"
)

// AliasAction is one step of an atomic alias update.
type AliasAction struct {
	Op    AliasOp
	Index string
	Alias string // unused for AliasRemoveIndex
	// Definition holds the alias's other properties for AliasAdd (filter, routing,
	// is_write_index, is_hidden...), e.g. a value from IndexDefinition.Aliases.
	Definition json.RawMessage
}

// MarshalJSON writes the action as the _aliases API expects it: {"add": {...}}.
func (a AliasAction) MarshalJSON() ([]byte, error) {
	body := map[string]any{}
	if len(a.Definition) > 0 {
		if err := json.Unmarshal(a.Definition, &body); err != nil {
			return nil, fmt.Errorf("alias %q definition: %w", a.Alias, err)
		}
	}
	body["index"] = a.Index
	if a.Op != AliasRemoveIndex {
		body["alias"] = a.Alias
	}
	return json.Marshal(map[AliasOp]any{a.Op: body})
}

// RemoteCluster is one remote-cluster connection as the follower sees it.
type RemoteCluster struct {
	Connected         bool     `json:"connected"`
	NumNodesConnected int      `json:"num_nodes_connected"`
	Seeds             []string `json:"seeds"`
	Mode              string   `json:"mode"` // "sniff" or "proxy"
	ProxyAddress      string   `json:"proxy_address"`
	SkipUnavailable   bool     `json:"skip_unavailable"`
}

// Status is a follower index's replication status as the CCR plugin reports it.
type Status string

// Replication statuses. While replication runs the plugin reports the shards' phase
// (BOOTSTRAPPING, then SYNCING); otherwise the index's overall state.
const (
	StatusBootstrapping Status = "BOOTSTRAPPING"
	StatusSyncing       Status = "SYNCING"
	StatusPaused        Status = "PAUSED"
	StatusFailed        Status = "FAILED"
	// StatusRunning is reported while replication runs but no shard has reported yet.
	StatusRunning Status = "RUNNING"
	// StatusStopped is reported briefly while a stop is being applied.
	StatusStopped Status = "STOPPED"
	// StatusNotInProgress: the index is not a follower (never was, or replication stopped).
	StatusNotInProgress Status = "REPLICATION NOT IN PROGRESS"
)

// ReplicationStatus is a follower index's replication state.
type ReplicationStatus struct {
	Status        Status
	Reason        string // why it is paused or failed
	LeaderAlias   string
	LeaderIndex   string
	FollowerIndex string
	// SyncingDetails is set while the index is SYNCING (zero otherwise).
	SyncingDetails SyncingDetails
	// Bootstrap is set while the index is BOOTSTRAPPING.
	Bootstrap *BootstrapDetails
}

// Replicating reports whether the index is under the plugin's control and has neither failed
// nor stopped: bootstrapping, syncing or paused. Such an index refuses writes.
func (s ReplicationStatus) Replicating() bool {
	switch s.Status {
	case StatusBootstrapping, StatusSyncing, StatusRunning, StatusPaused:
		return true
	}
	return false
}

// SyncingDetails are checkpoints summed over the index's primary shards, so their difference is
// the lag in operations.
type SyncingDetails struct {
	LeaderCheckpoint   int64 `json:"leader_checkpoint"`
	FollowerCheckpoint int64 `json:"follower_checkpoint"`
	SeqNo              int64 `json:"seq_no"`
}

// Lag is how many operations the follower is behind (never negative).
func (d SyncingDetails) Lag() int64 {
	if lag := d.LeaderCheckpoint - d.FollowerCheckpoint; lag > 0 {
		return lag
	}
	return 0
}

// BootstrapDetails are the progress of the initial copy (a restore from the leader), summed
// over shards; percentages are averages over shards.
type BootstrapDetails struct {
	BytesTotal        int64   `json:"bytes_total"`
	BytesRecovered    int64   `json:"bytes_recovered"`
	BytesPercent      float64 `json:"bytes_percent"`
	FilesTotal        int64   `json:"files_total"`
	FilesRecovered    int64   `json:"files_recovered"`
	FilesPercent      float64 `json:"files_percent"`
	StartTimeMillis   int64   `json:"start_time"`
	RunningTimeMillis int64   `json:"running_time"`
}

// ReplicationRoles are the security roles the plugin should use on each side; only meaningful
// with the security plugin.
type ReplicationRoles struct {
	LeaderClusterRole   string `json:"leader_cluster_role"`
	FollowerClusterRole string `json:"follower_cluster_role"`
}

// StartReplicationRequest says what a follower index replicates.
type StartReplicationRequest struct {
	LeaderAlias string // the follower's remote-cluster alias for the leader
	LeaderIndex string
	UseRoles    *ReplicationRoles
	// Settings override the leader's index settings on the follower (e.g. number_of_replicas).
	Settings map[string]any
	// WaitForRestore makes the call return only once the initial copy is done; the call is
	// still bounded by Config.Timeout.
	WaitForRestore bool
}

// AutofollowRule makes the follower replicate new leader indexes matching Pattern.
type AutofollowRule struct {
	LeaderAlias string
	Name        string
	Pattern     string
	UseRoles    *ReplicationRoles
	Settings    map[string]any
}

// FollowerStats are the follower cluster's replication counters.
type FollowerStats struct {
	NumSyncingIndices       int `json:"num_syncing_indices"`
	NumBootstrappingIndices int `json:"num_bootstrapping_indices"`
	NumPausedIndices        int `json:"num_paused_indices"`
	NumFailedIndices        int `json:"num_failed_indices"`
	NumShardTasks           int `json:"num_shard_tasks"`
	NumIndexTasks           int `json:"num_index_tasks"`
	// FollowerIndexStats holds the totals over all follower indexes.
	FollowerIndexStats
	IndexStats map[string]FollowerIndexStats `json:"index_stats"`
}

// FollowerIndexStats are one follower index's counters (checkpoints summed over shards).
type FollowerIndexStats struct {
	OperationsWritten      int64 `json:"operations_written"`
	OperationsRead         int64 `json:"operations_read"`
	FailedReadRequests     int64 `json:"failed_read_requests"`
	ThrottledReadRequests  int64 `json:"throttled_read_requests"`
	FailedWriteRequests    int64 `json:"failed_write_requests"`
	ThrottledWriteRequests int64 `json:"throttled_write_requests"`
	FollowerCheckpoint     int64 `json:"follower_checkpoint"`
	LeaderCheckpoint       int64 `json:"leader_checkpoint"`
	TotalWriteTimeMillis   int64 `json:"total_write_time_millis"`
}

// LeaderStats are the leader cluster's counters of what followers read from it.
type LeaderStats struct {
	NumReplicatedIndices int `json:"num_replicated_indices"`
	// LeaderIndexStats holds the totals over all replicated indexes.
	LeaderIndexStats
	IndexStats map[string]LeaderIndexStats `json:"index_stats"`
}

// LeaderIndexStats are one leader index's counters.
type LeaderIndexStats struct {
	OperationsRead              int64 `json:"operations_read"`
	TranslogSizeBytes           int64 `json:"translog_size_bytes"`
	OperationsReadLucene        int64 `json:"operations_read_lucene"`
	OperationsReadTranslog      int64 `json:"operations_read_translog"`
	TotalReadTimeLuceneMillis   int64 `json:"total_read_time_lucene_millis"`
	TotalReadTimeTranslogMillis int64 `json:"total_read_time_translog_millis"`
	BytesRead                   int64 `json:"bytes_read"`
}

// AutofollowStats are the follower's autofollow counters, in total and per rule.
type AutofollowStats struct {
	NumSuccessStartReplication int64                 `json:"num_success_start_replication"`
	NumFailedStartReplication  int64                 `json:"num_failed_start_replication"`
	NumFailedLeaderCalls       int64                 `json:"num_failed_leader_calls"`
	FailedIndices              []string              `json:"failed_indices"`
	Rules                      []AutofollowRuleStats `json:"autofollow_stats"`
}

// AutofollowRuleStats are one autofollow rule's counters.
type AutofollowRuleStats struct {
	Name                       string   `json:"name"`
	Pattern                    string   `json:"pattern"`
	NumSuccessStartReplication int64    `json:"num_success_start_replication"`
	NumFailedStartReplication  int64    `json:"num_failed_start_replication"`
	NumFailedLeaderCalls       int64    `json:"num_failed_leader_calls"`
	FailedIndices              []string `json:"failed_indices"`
	LastExecutionTimeMillis    int64    `json:"last_execution_time"`
}

// ClusterMetadata is what ClusterMetadata reads from the cluster state.
type ClusterMetadata struct {
	// Indexes are every index of the cluster, ordered by name.
	Indexes []IndexMetadata
	// IndexTemplates and ComponentTemplates map a template's name to its body as the cluster
	// state renders it.
	IndexTemplates     map[string]json.RawMessage
	ComponentTemplates map[string]json.RawMessage
	// IngestPipelines, SearchPipelines and StoredScripts map an ID to the object's body as the
	// cluster state renders it (which PutIngestPipeline, PutSearchPipeline and
	// PutStoredScript accept). Search templates are stored scripts.
	IngestPipelines map[string]json.RawMessage
	SearchPipelines map[string]json.RawMessage
	StoredScripts   map[string]json.RawMessage
	// PersistentSettings are the persistent cluster settings set explicitly, by flat key
	// ("search.max_buckets"), each value as the cluster renders it (a JSON string or list).
	PersistentSettings map[string]json.RawMessage
}

// IndexMetadata is one index as the cluster state records it. The versions grow with every
// change of the index's mapping, settings or aliases.
type IndexMetadata struct {
	Name            string
	UUID            string
	State           string // "open" or "close"
	Hidden          bool
	MappingVersion  int64
	SettingsVersion int64
	AliasesVersion  int64
}

// IsDotIndex reports whether the index name starts with a dot (system and plugin indexes).
func (m IndexMetadata) IsDotIndex() bool { return len(m.Name) > 0 && m.Name[0] == '.' }
