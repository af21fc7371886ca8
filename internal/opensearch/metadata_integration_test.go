package opensearch_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/osccr/osccr/internal/opensearch"
)

// testClusterMetadata reads indexes and templates from the cluster state of the follower
// cluster (which the other subtests leave alone), and sees each kind of change.
func testClusterMetadata(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.follower.client
	read := func() (opensearch.ClusterMetadata, map[string]opensearch.IndexMetadata) {
		t.Helper()
		m, err := c.ClusterMetadata(ctx)
		if err != nil {
			t.Fatalf("ClusterMetadata: %v", err)
		}
		byName := map[string]opensearch.IndexMetadata{}
		for _, ix := range m.Indexes {
			byName[ix.Name] = ix
		}
		return m, byName
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	one := map[string]any{"number_of_shards": 1, "number_of_replicas": 0}
	must(c.CreateIndex(ctx, "meta-open", map[string]any{"settings": one}))
	must(c.CreateIndex(ctx, ".meta-hidden", map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0, "hidden": true}}))
	must(c.PutComponentTemplate(ctx, "meta-ct", json.RawMessage(`{"template":{"settings":{"number_of_replicas":0}}}`)))
	must(c.PutIndexTemplate(ctx, "meta-it", json.RawMessage(`{"index_patterns":["meta-x-*"],"composed_of":["meta-ct"]}`)))

	before, ixs := read()
	open, hidden := ixs["meta-open"], ixs[".meta-hidden"]
	if open.UUID == "" || open.State != "open" || open.Hidden || open.MappingVersion < 1 || open.IsDotIndex() {
		t.Errorf("meta-open = %+v, want an open, visible index with a UUID and versions", open)
	}
	if !hidden.Hidden || !hidden.IsDotIndex() {
		t.Errorf(".meta-hidden = %+v, want hidden and dot-prefixed", hidden)
	}
	if _, ok := before.IndexTemplates["meta-it"]; !ok {
		t.Errorf("index templates %v, want meta-it", before.IndexTemplates)
	}
	if _, ok := before.ComponentTemplates["meta-ct"]; !ok {
		t.Errorf("component templates %v, want meta-ct", before.ComponentTemplates)
	}

	// Each change shows: a mapping, an alias, a template body, a closed index, a new UUID.
	must(c.PutMapping(ctx, "meta-open", map[string]any{"properties": map[string]any{"sku": map[string]any{"type": "keyword"}}}))
	must(c.UpdateAliases(ctx, opensearch.AliasAction{Op: opensearch.AliasAdd, Index: "meta-open", Alias: "meta-read"}))
	must(c.PutIndexTemplate(ctx, "meta-it", json.RawMessage(`{"index_patterns":["meta-y-*"],"composed_of":["meta-ct"]}`)))
	after, ixs := read()
	if got := ixs["meta-open"]; got.MappingVersion <= open.MappingVersion || got.AliasesVersion <= open.AliasesVersion || got.UUID != open.UUID {
		t.Errorf("after a mapping and an alias change: %+v, want higher mapping and aliases versions than %+v, same UUID", got, open)
	}
	if string(after.IndexTemplates["meta-it"]) == string(before.IndexTemplates["meta-it"]) {
		t.Errorf("index template body unchanged after a put: %s", after.IndexTemplates["meta-it"])
	}
	must(c.CloseIndex(ctx, "meta-open"))
	if _, ixs = read(); ixs["meta-open"].State != "close" || ixs["meta-open"].UUID != open.UUID {
		t.Errorf("closed index: %+v, want state close and the same UUID", ixs["meta-open"])
	}
	must(c.DeleteIndex(ctx, "meta-open"))
	must(c.CreateIndex(ctx, "meta-open", map[string]any{"settings": one}))
	if _, ixs = read(); ixs["meta-open"].UUID == open.UUID || ixs["meta-open"].State != "open" {
		t.Errorf("recreated index %+v kept UUID %s", ixs["meta-open"], open.UUID)
	}

	// Without replication (or without the plugin) no index has a replication state.
	states, err := c.ReplicationStates(ctx)
	if err != nil || len(states) != 0 {
		t.Errorf("ReplicationStates = %v, %v; want none", states, err)
	}
}
