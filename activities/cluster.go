package activities

import (
	"context"
	"encoding/json"
	"time"

	"github.com/osccr/osccr/internal/opensearch"
)

// Cluster is what the activities ask of one OpenSearch cluster: the calls of the typed client
// (internal/opensearch) they make, and no more. *opensearch.Client is the one implementation.
type Cluster interface {
	// The cluster.
	Info(ctx context.Context) (opensearch.ClusterInfo, error)
	Health(ctx context.Context) (opensearch.ClusterHealth, error)
	Plugins(ctx context.Context) ([]string, error)
	ClusterMetadata(ctx context.Context) (opensearch.ClusterMetadata, error)
	MetadataVersion(ctx context.Context, guess int64) (int64, error)
	MetadataVersionReached(ctx context.Context, version int64) (bool, error)
	WaitForMetadata(ctx context.Context, version int64, timeout time.Duration) (opensearch.ClusterMetadata, bool, error)
	Checkpoints(ctx context.Context) (map[string]opensearch.IndexCheckpoints, error)
	PutPersistentClusterSettings(ctx context.Context, settings map[string]any) error
	Nodes(ctx context.Context) ([]opensearch.NodeStats, error)
	SecurityMode(ctx context.Context) (string, error)
	NodesDN(ctx context.Context) (opensearch.NodesDNSettings, error)
	ReplicationAuthInfo(ctx context.Context) (opensearch.AuthInfo, error)

	// Remote clusters.
	RemoteInfo(ctx context.Context) (map[string]opensearch.RemoteCluster, error)
	SetRemoteCluster(ctx context.Context, alias string, seeds []string) error
	RemoveRemoteCluster(ctx context.Context, alias string) error

	// Indexes and documents.
	ListIndices(ctx context.Context) ([]opensearch.IndexSummary, error)
	GetIndex(ctx context.Context, name string) (opensearch.IndexDefinition, error)
	CreateIndex(ctx context.Context, name string, body any) error
	DeleteIndex(ctx context.Context, name string) error
	Refresh(ctx context.Context, index string) error
	PrimarySeqNos(ctx context.Context, index string) (map[int]opensearch.ShardSeqNo, error)
	DocumentIDs(ctx context.Context, index string) ([]string, error)

	// Templates.
	ListIndexTemplates(ctx context.Context) (map[string]json.RawMessage, error)
	GetIndexTemplate(ctx context.Context, name string) (json.RawMessage, error)
	PutIndexTemplate(ctx context.Context, name string, body json.RawMessage) error
	DeleteIndexTemplate(ctx context.Context, name string) error
	ListComponentTemplates(ctx context.Context) (map[string]json.RawMessage, error)
	PutComponentTemplate(ctx context.Context, name string, body json.RawMessage) error
	DeleteComponentTemplate(ctx context.Context, name string) error

	// Pipelines and stored scripts (listed by ClusterMetadata).
	PutIngestPipeline(ctx context.Context, id string, body json.RawMessage) error
	DeleteIngestPipeline(ctx context.Context, id string) error
	PutSearchPipeline(ctx context.Context, id string, body json.RawMessage) error
	DeleteSearchPipeline(ctx context.Context, id string) error
	PutStoredScript(ctx context.Context, id string, script json.RawMessage) error
	DeleteStoredScript(ctx context.Context, id string) error

	// The cross-cluster-replication plugin.
	StartReplication(ctx context.Context, followerIndex string, req opensearch.StartReplicationRequest) error
	PauseReplication(ctx context.Context, followerIndex string) error
	ResumeReplication(ctx context.Context, followerIndex string) error
	StopReplication(ctx context.Context, followerIndex string) error
	ReplicationStatus(ctx context.Context, followerIndex string) (opensearch.ReplicationStatus, error)
	ReplicationStates(ctx context.Context) (map[string]opensearch.Status, error)
}

var _ Cluster = (*opensearch.Client)(nil)
