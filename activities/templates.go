package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/opensearch"
)

// configAPI is a cluster's configuration that the replication plugin leaves alone: index and
// component templates, ingest and search pipelines, stored scripts (the pipelines and scripts
// listed by the cluster's metadata), the persistent cluster settings.
type configAPI interface {
	PutPersistentClusterSettings(ctx context.Context, settings map[string]any) error
	ListISMPolicies(ctx context.Context) (map[string]json.RawMessage, error)
	PutISMPolicy(ctx context.Context, id string, body json.RawMessage) error
	DeleteISMPolicy(ctx context.Context, id string) error
	ClusterMetadata(ctx context.Context) (opensearch.ClusterMetadata, error)
	ListIndexTemplates(ctx context.Context) (map[string]json.RawMessage, error)
	GetIndexTemplate(ctx context.Context, name string) (json.RawMessage, error)
	PutIndexTemplate(ctx context.Context, name string, body json.RawMessage) error
	DeleteIndexTemplate(ctx context.Context, name string) error
	ListComponentTemplates(ctx context.Context) (map[string]json.RawMessage, error)
	PutComponentTemplate(ctx context.Context, name string, body json.RawMessage) error
	DeleteComponentTemplate(ctx context.Context, name string) error
	PutIngestPipeline(ctx context.Context, id string, body json.RawMessage) error
	DeleteIngestPipeline(ctx context.Context, id string) error
	PutSearchPipeline(ctx context.Context, id string, body json.RawMessage) error
	DeleteSearchPipeline(ctx context.Context, id string) error
	PutStoredScript(ctx context.Context, id string, script json.RawMessage) error
	DeleteStoredScript(ctx context.Context, id string) error
}

// configKind is one reconciler of the chain: one kind of configuration object the replication
// plugin leaves alone.
type configKind struct {
	prefix string
	// list reads a cluster's objects of the kind; m is the cluster's metadata, read once.
	list   func(configAPI, context.Context, opensearch.ClusterMetadata) (map[string]json.RawMessage, error)
	put    func(configAPI, context.Context, string, json.RawMessage) error
	delete func(configAPI, context.Context, string) error
}

func fromMetadata(pick func(opensearch.ClusterMetadata) map[string]json.RawMessage) func(configAPI, context.Context, opensearch.ClusterMetadata) (map[string]json.RawMessage, error) {
	return func(_ configAPI, _ context.Context, m opensearch.ClusterMetadata) (map[string]json.RawMessage, error) {
		return maps.Clone(pick(m)), nil
	}
}

func fromAPI(list func(configAPI, context.Context) (map[string]json.RawMessage, error)) func(configAPI, context.Context, opensearch.ClusterMetadata) (map[string]json.RawMessage, error) {
	return func(c configAPI, ctx context.Context, _ opensearch.ClusterMetadata) (map[string]json.RawMessage, error) {
		return list(c, ctx)
	}
}

// Templates are listed with their own API (the cluster state renders them in another form than
// PUT takes); pipelines and scripts come from the cluster state (stored scripts have no list API).
var (
	storedScripts      = configKind{"script/", fromMetadata(func(m opensearch.ClusterMetadata) map[string]json.RawMessage { return m.StoredScripts }), configAPI.PutStoredScript, configAPI.DeleteStoredScript}
	ingestPipelines    = configKind{"pipeline/", fromMetadata(func(m opensearch.ClusterMetadata) map[string]json.RawMessage { return m.IngestPipelines }), configAPI.PutIngestPipeline, configAPI.DeleteIngestPipeline}
	searchPipelines    = configKind{"search-pipeline/", fromMetadata(func(m opensearch.ClusterMetadata) map[string]json.RawMessage { return m.SearchPipelines }), configAPI.PutSearchPipeline, configAPI.DeleteSearchPipeline}
	componentTemplates = configKind{"component/", fromAPI(configAPI.ListComponentTemplates), configAPI.PutComponentTemplate, configAPI.DeleteComponentTemplate}
	indexTemplates     = configKind{"index/", fromAPI(configAPI.ListIndexTemplates), configAPI.PutIndexTemplate, configAPI.DeleteIndexTemplate}
	clusterSettings    = configKind{"setting/", fromMetadata(copiedSettings), putSetting, deleteSetting}
	ismPolicies        = configKind{"ism-policy/", fromAPI(listISMPolicies), putISMPolicy, configAPI.DeleteISMPolicy}
)

// copiedSettingKeys are the persistent cluster settings osccr keeps on a follower as its leader
// has them: those an application's requests depend on (which indexes a write may create, what
// a search may ask and how long a scroll may live, what a delete may name, how often scripts
// compile). The cluster's topology, recovery, allocation, remote-cluster and plugin settings
// stay each cluster's own: they describe its nodes, not the application.
var copiedSettingKeys = []string{
	"action.auto_create_index",
	"action.destructive_requires_name",
	"action.search.shard_count.limit",
	"cluster.indices.close.enable",
	"cluster.max_shards_per_node",
	"indices.id_field_data.enabled",
	"script.max_compilations_rate",
	"search.allow_expensive_queries",
	"search.default_allow_partial_results",
	"search.default_keep_alive",
	"search.default_search_timeout",
	"search.max_buckets",
	"search.max_keep_alive",
	"search.max_open_scroll_context",
}

// copiedSettings picks the copiedSettingKeys a cluster has set persistently.
func copiedSettings(m opensearch.ClusterMetadata) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for _, key := range copiedSettingKeys {
		if v, ok := m.PersistentSettings[key]; ok {
			out[key] = v
		}
	}
	return out
}

func putSetting(c configAPI, ctx context.Context, key string, value json.RawMessage) error {
	var v any
	if err := json.Unmarshal(value, &v); err != nil {
		return fmt.Errorf("setting %s: value %s is not JSON: %w", key, value, err)
	}
	return c.PutPersistentClusterSettings(ctx, map[string]any{key: v})
}

func deleteSetting(c configAPI, ctx context.Context, key string) error {
	return c.PutPersistentClusterSettings(ctx, map[string]any{key: nil})
}

// configChain is the reconcilers in the order objects are put: what others name comes first
// (a pipeline's script processor names a stored script, an index template's settings a
// pipeline, an index template its component templates; the cluster settings name nothing; an
// ISM policy's ism_template matches indexes that index templates shape).
// Deletions run in the reverse order (a component template in use cannot be deleted).
var configChain = []configKind{clusterSettings, storedScripts, ingestPipelines, searchPipelines, componentTemplates, indexTemplates, ismPolicies}

// SyncTemplates reconciles the follower's configuration with the leader's, kind by kind along
// configChain (settings, templates, pipelines, stored scripts; the activity keeps its first name, which
// workflow histories record):
//
//  0. fingerprint the leader's configuration, for the caller to compare with what WatchLeader
//     sees;
//  1. desired: the leader's objects, less dot-prefixed (system and plugin) ones;
//  2. observed: the follower's objects; owned: what osccr wrote (Managed) with its digest;
//  3. for each desired object: equal on the follower -> owned (adopted if osccr had not
//     written it, as after a role swap); absent, or owned and unchanged since osccr wrote it
//     -> put; otherwise -> a conflict, left alone;
//  4. for each owned object the leader no longer has: unchanged since osccr wrote it ->
//     deleted; changed on the follower -> a conflict, left alone (and still owned, so a later
//     sync deletes it once it is restored or resolved);
//  5. what osccr now owns is the result's Managed.
//
// Each step is idempotent, so a sync interrupted by a crash is finished by the next one.
func (a *Activities) SyncTemplates(ctx context.Context, in contract.SyncTemplatesInput) (contract.TemplateSync, error) {
	leader, err := a.client(in.Leader)
	if err != nil {
		return contract.TemplateSync{}, err
	}
	follower, err := a.client(in.Follower)
	if err != nil {
		return contract.TemplateSync{}, err
	}
	out := contract.TemplateSync{Managed: []string{}, Digests: map[string]string{}}
	own := func(key, digest string) {
		out.Managed = append(out.Managed, key)
		if digest != "" {
			out.Digests[key] = digest
		}
	}
	// The fingerprint comes first: a change made while the sync runs then shows as a change.
	lm, err := leader.ClusterMetadata(ctx)
	if err != nil {
		return out, classify(fmt.Errorf("read configuration of leader %s: %w", in.Leader.Name, err))
	}
	lism, err := listISMPolicies(leader, ctx)
	if err != nil {
		return out, classify(fmt.Errorf("list ISM policies of leader %s: %w", in.Leader.Name, err))
	}
	out.Fingerprint = configFingerprint(templatesFingerprint(lm), ismFingerprint(lism))
	fm, err := follower.ClusterMetadata(ctx)
	if err != nil {
		return out, classify(fmt.Errorf("read configuration of follower %s: %w", in.Follower.Name, err))
	}
	owned := make(map[string]string, len(in.Managed))
	for _, key := range in.Managed {
		owned[key] = in.Digests[key]
	}
	desired := map[string]map[string]json.RawMessage{}
	observed := map[string]map[string]json.RawMessage{}
	for _, k := range configChain {
		want, err := k.list(leader, ctx, lm)
		if err != nil {
			return out, classify(fmt.Errorf("list %s objects of leader %s: %w", strings.TrimSuffix(k.prefix, "/"), in.Leader.Name, err))
		}
		maps.DeleteFunc(want, func(name string, _ json.RawMessage) bool { return strings.HasPrefix(name, ".") })
		desired[k.prefix] = want
		have, err := k.list(follower, ctx, fm)
		if err != nil {
			return out, classify(fmt.Errorf("list %s objects of follower %s: %w", strings.TrimSuffix(k.prefix, "/"), in.Follower.Name, err))
		}
		observed[k.prefix] = have
		for _, name := range slices.Sorted(maps.Keys(want)) {
			key := k.prefix + name
			digest := configDigest(want[name])
			current, exists := have[name]
			wrote, isOwned := owned[key]
			switch {
			case exists && sameJSON(current, want[name]):
				own(key, digest)
				continue
			case exists && !isOwned:
				out.Conflicts = append(out.Conflicts, contract.ConfigConflict{Object: key, Reason: "the follower has another " + strings.TrimSuffix(k.prefix, "/") + " of this name, which osccr did not write"})
				continue
			case exists && wrote != "" && configDigest(current) != wrote:
				own(key, wrote)
				out.Conflicts = append(out.Conflicts, contract.ConfigConflict{Object: key, Reason: "changed on the follower since osccr wrote it"})
				continue
			}
			err := k.put(follower, ctx, name, want[name])
			if errors.Is(err, errNoISM) {
				out.Conflicts = append(out.Conflicts, contract.ConfigConflict{Object: key, Reason: "the follower has no ISM plugin: install it there (make opensearch installs it on local services)"})
				continue
			}
			if err != nil {
				return out, classify(fmt.Errorf("put %s on follower %s: %w", key, in.Follower.Name, err))
			}
			own(key, digest)
			out.Put = append(out.Put, key)
		}
	}
	for _, k := range slices.Backward(configChain) {
		for _, key := range slices.Sorted(maps.Keys(owned)) {
			name, ok := strings.CutPrefix(key, k.prefix)
			if !ok {
				continue
			}
			if _, still := desired[k.prefix][name]; still {
				continue
			}
			current, exists := observed[k.prefix][name]
			if !exists {
				continue
			}
			if wrote := owned[key]; wrote != "" && configDigest(current) != wrote {
				own(key, wrote)
				out.Conflicts = append(out.Conflicts, contract.ConfigConflict{Object: key, Reason: "deleted on the leader but changed on the follower since osccr wrote it"})
				continue
			}
			if err := k.delete(follower, ctx, name); err != nil && !errors.Is(err, opensearch.ErrNotFound) {
				return out, classify(fmt.Errorf("delete %s from follower %s: %w", key, in.Follower.Name, err))
			}
			out.Deleted = append(out.Deleted, key)
		}
	}
	slices.Sort(out.Managed)
	return out, nil
}

// configDigest hashes an object's body in a canonical form (JSON objects re-encoded with
// sorted keys), so that equal bodies give equal digests whatever their formatting.
func configDigest(body json.RawMessage) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		v = string(body)
	}
	raw, err := json.Marshal(v)
	if err != nil { // cannot happen: the value came from JSON
		raw = body
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:12])
}

// sameJSON compares two JSON documents by value, not by formatting or key order.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
