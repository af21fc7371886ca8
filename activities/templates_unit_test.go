package activities

import (
	"encoding/json"
	"testing"
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
