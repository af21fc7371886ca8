package opensearch

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// metadataFilter keeps only what ClusterMetadata reads from the cluster state: the whole state
// holds every mapping, which a caller polling several times a second does not want on the wire.
var metadataFilter = strings.Join([]string{
	"metadata.indices.*.state",
	"metadata.indices.*.settings.index.uuid",
	"metadata.indices.*.settings.index.hidden",
	"metadata.indices.*.mapping_version",
	"metadata.indices.*.settings_version",
	"metadata.indices.*.aliases_version",
	"metadata.index_template.index_template",
	"metadata.component_template.component_template",
	"metadata.ingest.pipeline",
	"metadata.search_pipeline.pipeline",
	"metadata.stored_scripts",
}, ",")

// ClusterMetadata reads, in two cheap calls, what a watcher of the cluster needs: every index
// (hidden and dot-prefixed ones included) with its UUID, state and metadata versions, and the
// composable index and component templates, the ingest and search pipelines and the stored
// scripts (the cluster state's metadata), then the persistent cluster settings (which the
// cluster state's API rendering leaves out, though changing them moves the metadata's
// version). Template bodies are the cluster state's rendering,
// which differs in form from GetIndexTemplate's: compare them with each other, not with that.
func (c *Client) ClusterMetadata(ctx context.Context) (ClusterMetadata, error) {
	var res metadataResponse
	q := url.Values{"filter_path": {metadataFilter}}
	if err := c.do(ctx, request{op: "read cluster metadata", method: http.MethodGet, path: "/_cluster/state/metadata", query: q}, &res); err != nil {
		return ClusterMetadata{}, err
	}
	return c.withSettings(ctx, res.metadata())
}

// withSettings adds the persistent cluster settings to metadata read from the cluster state.
func (c *Client) withSettings(ctx context.Context, m ClusterMetadata) (ClusterMetadata, error) {
	var res struct {
		Persistent map[string]json.RawMessage `json:"persistent"`
	}
	q := url.Values{"flat_settings": {"true"}, "filter_path": {"persistent"}}
	if err := c.do(ctx, request{op: "read persistent cluster settings", method: http.MethodGet, path: "/_cluster/settings", query: q}, &res); err != nil {
		return ClusterMetadata{}, err
	}
	m.PersistentSettings = res.Persistent
	if m.PersistentSettings == nil {
		m.PersistentSettings = map[string]json.RawMessage{}
	}
	return m, nil
}

func (res metadataResponse) metadata() ClusterMetadata {
	m := ClusterMetadata{
		Indexes:            make([]IndexMetadata, 0, len(res.Metadata.Indices)),
		IndexTemplates:     res.Metadata.IndexTemplate.Templates,
		ComponentTemplates: res.Metadata.ComponentTemplate.Templates,
		IngestPipelines:    res.Metadata.Ingest.byID(),
		SearchPipelines:    res.Metadata.SearchPipeline.byID(),
		StoredScripts:      res.Metadata.StoredScripts,
	}
	for name, ix := range res.Metadata.Indices {
		m.Indexes = append(m.Indexes, IndexMetadata{
			Name:            name,
			UUID:            ix.Settings.Index.UUID,
			State:           ix.State,
			Hidden:          ix.Settings.Index.Hidden == "true",
			MappingVersion:  ix.MappingVersion,
			SettingsVersion: ix.SettingsVersion,
			AliasesVersion:  ix.AliasesVersion,
		})
	}
	sort.Slice(m.Indexes, func(i, j int) bool { return m.Indexes[i].Name < m.Indexes[j].Name })
	if m.IndexTemplates == nil {
		m.IndexTemplates = map[string]json.RawMessage{}
	}
	if m.ComponentTemplates == nil {
		m.ComponentTemplates = map[string]json.RawMessage{}
	}
	if m.StoredScripts == nil {
		m.StoredScripts = map[string]json.RawMessage{}
	}
	return m
}

// ReplicationStates reads the CCR plugin's last known overall state (StatusRunning,
// StatusPaused or StatusFailed) of every follower index of this cluster, in one call: the plugin
// keeps it in the cluster state. An index that is not a follower is absent; a cluster without
// the plugin answers an empty map. Ask ReplicationStatus for the reason of a PAUSED or FAILED
// one.
func (c *Client) ReplicationStates(ctx context.Context) (map[string]Status, error) {
	var res struct {
		Metadata struct {
			Replication struct {
				Details map[string]map[string]string `json:"replication_details"`
			} `json:"replication_metadata"`
		} `json:"metadata"`
	}
	q := url.Values{"filter_path": {"metadata.replication_metadata.replication_details"}}
	if err := c.do(ctx, request{op: "read replication states", method: http.MethodGet, path: "/_cluster/state/metadata", query: q}, &res); err != nil {
		return nil, err
	}
	out := make(map[string]Status, len(res.Metadata.Replication.Details))
	for index, params := range res.Metadata.Replication.Details {
		out[index] = Status(params["REPLICATION_LAST_KNOWN_OVERALL_STATE"])
	}
	return out, nil
}
