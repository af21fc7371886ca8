package opensearch

import (
	"encoding/json"
	"testing"
)

// TestISMPolicyBody: what ISM writes itself (ID, schema version, update times, the user) is
// dropped, so that a leader's policy and its copy on the follower compare equal.
func TestISMPolicyBody(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"as GET answers it",
			`{"policy_id":"hot","description":"d","last_updated_time":1764000000000,"schema_version":21,"error_notification":null,"default_state":"hot","states":[],"ism_template":[{"index_patterns":["app-*"],"priority":10,"last_updated_time":1764000000000}]}`,
			`{"default_state":"hot","description":"d","ism_template":[{"index_patterns":["app-*"],"priority":10}],"states":[]}`},
		{"with a user and a notification",
			`{"policy_id":"p","user":{"name":"admin"},"error_notification":{"channel":{"id":"c"}},"default_state":"a","states":[]}`,
			`{"default_state":"a","error_notification":{"channel":{"id":"c"}},"states":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p map[string]any
			if err := json.Unmarshal([]byte(tc.in), &p); err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(ismPolicyBody(p))
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
