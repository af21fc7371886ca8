package activities

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/osccr/osccr/internal/opensearch"
)

// TestConfigDigest: one body in two formattings has one digest, two bodies two.
func TestConfigDigest(t *testing.T) {
	body := json.RawMessage(`{"processors":[{"set":{"field":"a","value":1}}]}`)
	reordered := json.RawMessage(`{ "processors": [ { "set": { "value": 1, "field": "a" } } ] }`)
	if configDigest(body) != configDigest(reordered) {
		t.Errorf("digests of one body in two formattings differ: %s, %s", configDigest(body), configDigest(reordered))
	}
	if configDigest(body) == configDigest(json.RawMessage(`{"processors":[]}`)) {
		t.Error("digests of two bodies are equal")
	}
}

// TestCopiedSettings: of a cluster's persistent settings, only the application's travel.
func TestCopiedSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]json.RawMessage
		want []string
	}{
		{"none set", map[string]json.RawMessage{}, nil},
		{"application settings", map[string]json.RawMessage{"action.auto_create_index": json.RawMessage(`"false"`), "search.max_buckets": json.RawMessage(`"20000"`)}, []string{"action.auto_create_index", "search.max_buckets"}},
		{"the cluster's own stay", map[string]json.RawMessage{
			"cluster.remote.leader.seeds":                            json.RawMessage(`["127.0.0.1:9300"]`),
			"cluster.routing.allocation.disk.watermark.low":          json.RawMessage(`"90%"`),
			"plugins.replication.follower.index.recovery.chunk_size": json.RawMessage(`"10mb"`),
			"indices.recovery.max_bytes_per_sec":                     json.RawMessage(`"50mb"`),
			"search.max_keep_alive":                                  json.RawMessage(`"1h"`),
		}, []string{"search.max_keep_alive"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := copiedSettings(opensearch.ClusterMetadata{PersistentSettings: tc.set})
			keys := slices.Sorted(maps.Keys(got))
			if !slices.Equal(keys, tc.want) {
				t.Errorf("copied %v, want %v", keys, tc.want)
			}
			for _, k := range keys {
				if string(got[k]) != string(tc.set[k]) {
					t.Errorf("%s copied as %s, want %s", k, got[k], tc.set[k])
				}
			}
		})
	}
	if !slices.IsSorted(copiedSettingKeys) {
		t.Errorf("copiedSettingKeys are not sorted: %v", copiedSettingKeys)
	}
}
