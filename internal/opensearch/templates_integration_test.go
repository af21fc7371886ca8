package opensearch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/osccr/osccr/internal/opensearch"
)

// testTemplates puts templates on the leader, reads them back and copies them verbatim to the
// follower, as osccr's template sync does (the CCR plugin does not replicate templates).
func testTemplates(t *testing.T, e *env) {
	ctx := context.Background()
	leader, follower := e.leader.client, e.follower.client
	const ct, it = "osccr-ct", "osccr-it"
	ctBody := json.RawMessage(`{"template":{"settings":{"index":{"number_of_shards":"1","number_of_replicas":"0"}}},"_meta":{"owner":"osccr"}}`)
	itBody := json.RawMessage(`{"index_patterns":["osccr-tpl-*"],"composed_of":["osccr-ct"],"priority":100,"version":3,` +
		`"template":{"mappings":{"properties":{"ts":{"type":"date"}}},"aliases":{"osccr-tpl":{}}}}`)

	if err := leader.PutComponentTemplate(ctx, ct, ctBody); err != nil {
		t.Fatalf("PutComponentTemplate: %v", err)
	}
	if err := leader.PutIndexTemplate(ctx, it, itBody); err != nil {
		t.Fatalf("PutIndexTemplate: %v", err)
	}
	if err := leader.PutIndexTemplate(ctx, "osccr-bad", json.RawMessage(`{"index_patterns":["x-*"],"composed_of":["no-such-component"]}`)); !errors.Is(err, opensearch.ErrBadRequest) {
		t.Errorf("PutIndexTemplate with a missing component: %v, want ErrBadRequest", err)
	}

	cts, err := leader.ListComponentTemplates(ctx)
	if err != nil {
		t.Fatalf("ListComponentTemplates: %v", err)
	}
	its, err := leader.ListIndexTemplates(ctx)
	if err != nil {
		t.Fatalf("ListIndexTemplates: %v", err)
	}
	if !jsonEqual(t, cts[ct], ctBody) {
		t.Errorf("listed component template = %s, want %s", cts[ct], ctBody)
	}
	if !jsonEqual(t, its[it], itBody) {
		t.Errorf("listed index template = %s, want %s", its[it], itBody)
	}
	gotCT, err := leader.GetComponentTemplate(ctx, ct)
	if err != nil || !jsonEqual(t, gotCT, ctBody) {
		t.Errorf("GetComponentTemplate = %s, %v", gotCT, err)
	}
	gotIT, err := leader.GetIndexTemplate(ctx, it)
	if err != nil || !jsonEqual(t, gotIT, itBody) {
		t.Errorf("GetIndexTemplate = %s, %v", gotIT, err)
	}

	// The template applies on the leader...
	if err := leader.CreateIndex(ctx, "osccr-tpl-1", nil); err != nil {
		t.Fatalf("CreateIndex: %v", err)
	}
	def, err := leader.GetIndex(ctx, "osccr-tpl-1")
	if err != nil {
		t.Fatalf("GetIndex: %v", err)
	}
	if !strings.Contains(string(def.Mappings), `"ts":{"type":"date"}`) || def.Setting("index.number_of_replicas") != "0" {
		t.Errorf("index from template: mappings %s, replicas %q", def.Mappings, def.Setting("index.number_of_replicas"))
	}
	if _, ok := def.Aliases["osccr-tpl"]; !ok {
		t.Errorf("index from template has aliases %v, want osccr-tpl", def.Aliases)
	}
	if err := leader.DeleteIndex(ctx, "osccr-tpl-1"); err != nil {
		t.Errorf("DeleteIndex: %v", err)
	}

	// ...and what was read is accepted verbatim by the follower.
	if err := follower.PutComponentTemplate(ctx, ct, gotCT); err != nil {
		t.Fatalf("copy component template: %v", err)
	}
	if err := follower.PutIndexTemplate(ctx, it, gotIT); err != nil {
		t.Fatalf("copy index template: %v", err)
	}
	copied, err := follower.GetIndexTemplate(ctx, it)
	if err != nil || !jsonEqual(t, copied, gotIT) {
		t.Errorf("copied index template = %s, %v; want %s", copied, err, gotIT)
	}

	// A component template in use cannot go; order matters when deleting.
	if err := leader.DeleteComponentTemplate(ctx, ct); !errors.Is(err, opensearch.ErrBadRequest) {
		t.Errorf("DeleteComponentTemplate in use: %v, want ErrBadRequest", err)
	}
	for _, c := range []*opensearch.Client{leader, follower} {
		if err := c.DeleteIndexTemplate(ctx, it); err != nil {
			t.Errorf("DeleteIndexTemplate: %v", err)
		}
		if err := c.DeleteComponentTemplate(ctx, ct); err != nil {
			t.Errorf("DeleteComponentTemplate: %v", err)
		}
	}
	if _, err := leader.GetIndexTemplate(ctx, it); !errors.Is(err, opensearch.ErrNotFound) {
		t.Errorf("GetIndexTemplate after delete: %v, want ErrNotFound", err)
	}
	if _, err := leader.GetComponentTemplate(ctx, ct); !errors.Is(err, opensearch.ErrNotFound) {
		t.Errorf("GetComponentTemplate after delete: %v, want ErrNotFound", err)
	}
	if err := leader.DeleteIndexTemplate(ctx, it); !errors.Is(err, opensearch.ErrNotFound) {
		t.Errorf("DeleteIndexTemplate twice: %v, want ErrNotFound", err)
	}
	if err := leader.DeleteComponentTemplate(ctx, ct); !errors.Is(err, opensearch.ErrNotFound) {
		t.Errorf("DeleteComponentTemplate twice: %v, want ErrNotFound", err)
	}
	its, err = leader.ListIndexTemplates(ctx)
	if err != nil {
		t.Fatalf("ListIndexTemplates: %v", err)
	}
	if _, ok := its[it]; ok {
		t.Errorf("ListIndexTemplates still lists %s", it)
	}
}

// jsonEqual compares two JSON documents by value. OpenSearch returns setting values as strings,
// so the expected bodies above use strings too.
func jsonEqual(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Errorf("invalid JSON %s: %v", a, err)
		return false
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Errorf("invalid JSON %s: %v", b, err)
		return false
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return bytes.Equal(xs, ys)
}
