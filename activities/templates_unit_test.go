package activities

import (
	"encoding/json"
	"maps"
	"testing"
)

// TestManagedEntries: what a sync records of an object it wrote reads back as that object's
// key and digest; an entry from before digests reads back as owned with no digest.
func TestManagedEntries(t *testing.T) {
	body := json.RawMessage(`{"processors":[{"set":{"field":"a","value":1}}]}`)
	reordered := json.RawMessage(`{ "processors": [ { "set": { "value": 1, "field": "a" } } ] }`)
	if configDigest(body) != configDigest(reordered) {
		t.Errorf("digests of one body in two formattings differ: %s, %s", configDigest(body), configDigest(reordered))
	}
	if configDigest(body) == configDigest(json.RawMessage(`{"processors":[]}`)) {
		t.Error("digests of two bodies are equal")
	}
	tests := []struct {
		name    string
		managed []string
		want    map[string]string
	}{
		{"none", nil, map[string]string{}},
		{"with digests", []string{managedEntry("pipeline/stamp", "abc"), managedEntry("index/logs", "def")}, map[string]string{"pipeline/stamp": "abc", "index/logs": "def"}},
		{"recorded before digests", []string{"index/logs", "component/shared"}, map[string]string{"index/logs": "", "component/shared": ""}},
	}
	for _, tt := range tests {
		if got := parseManaged(tt.managed); !maps.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
