package activities

import (
	"encoding/json"
	"testing"

	"github.com/osccr/osccr/internal/opensearch"
)

// TestTemplatePolicy: the policy ISM would have attached to an index at its creation, by the
// highest-priority ism_template matching its name.
func TestTemplatePolicy(t *testing.T) {
	policies := map[string]json.RawMessage{
		"logs":     json.RawMessage(`{"policy":{"default_state":"hot","states":[],"ism_template":[{"index_patterns":["logs-*"],"priority":10}]}}`),
		"logs-app": json.RawMessage(`{"policy":{"default_state":"hot","states":[],"ism_template":[{"index_patterns":["logs-app-*","other-*"],"priority":20}]}}`),
		"manual":   json.RawMessage(`{"policy":{"default_state":"hot","states":[]}}`),
		"tie-b":    json.RawMessage(`{"policy":{"ism_template":[{"index_patterns":["tie-*"],"priority":5}]}}`),
		"tie-a":    json.RawMessage(`{"policy":{"ism_template":[{"index_patterns":["tie-*"],"priority":5}]}}`),
		"broken":   json.RawMessage(`{`),
	}
	for _, tc := range []struct{ index, want string }{
		{"logs-web-1", "logs"},
		{"logs-app-1", "logs-app"},
		{"other-1", "logs-app"},
		{"metrics-1", ""},
		{"tie-1", "tie-a"},
	} {
		if got := templatePolicy(policies, tc.index); got != tc.want {
			t.Errorf("templatePolicy(%s) = %q, want %q", tc.index, got, tc.want)
		}
	}
}

// TestConfigFingerprint: no ISM policies leave the fingerprint as the metadata's alone (an
// integration from before ISM was copied sees no change); policies change it.
func TestConfigFingerprint(t *testing.T) {
	if got := configFingerprint("abc", ""); got != "abc" {
		t.Errorf("configFingerprint without policies = %q, want the metadata's", got)
	}
	one := ismFingerprint(map[string]json.RawMessage{"p": json.RawMessage(`{"policy":{"default_state":"hot"}}`)})
	two := ismFingerprint(map[string]json.RawMessage{"p": json.RawMessage(`{"policy":{"default_state":"warm"}}`)})
	if one == "" || one == two || ismFingerprint(nil) != "" {
		t.Errorf("ISM fingerprints %q, %q, empty %q: want two distinct, and none for no policies", one, two, ismFingerprint(nil))
	}
	if configFingerprint("abc", one) == "abc" || configFingerprint("abc", one) == configFingerprint("abc", two) {
		t.Error("configFingerprint does not change with the policies")
	}
}

// TestNoISM: a cluster without the ISM plugin answers its calls "no handler found".
func TestNoISM(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"no handler", &opensearch.Error{Status: 400, Reason: "no handler found for uri [/_plugins/_ism/policies] and method [GET]"}, true},
		{"policy missing", &opensearch.Error{Status: 404, Type: "status_exception", Reason: "Policy nope is not found"}, false},
		{"denied", &opensearch.Error{Status: 403, Type: "security_exception", Reason: "no permissions for [cluster:admin/opendistro/ism/policy/search]"}, false},
		{"none", nil, false},
	} {
		if got := noISM(tc.err); got != tc.want {
			t.Errorf("%s: noISM = %v, want %v", tc.name, got, tc.want)
		}
	}
}
