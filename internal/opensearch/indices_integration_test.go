package opensearch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/opensearch"
)

func testIndices(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.leader.client
	const name = "idx-a"

	body := map[string]any{
		"settings": map[string]any{"index.number_of_shards": 1, "index.number_of_replicas": 0},
		"mappings": map[string]any{"properties": map[string]any{"title": map[string]any{"type": "text"}}},
		"aliases":  map[string]any{"alias-a": map[string]any{}},
	}
	if err := c.CreateIndex(ctx, name, body); err != nil {
		t.Fatalf("CreateIndex: %v", err)
	}
	err := c.CreateIndex(ctx, name, nil)
	if !errors.Is(err, opensearch.ErrAlreadyExists) {
		t.Fatalf("second CreateIndex: %v, want ErrAlreadyExists", err)
	}
	if want := `opensearch: create index "idx-a": index [idx-a/`; !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "(resource_already_exists_exception)") {
		t.Errorf("error message %q, want it to start with %q and end with the type", err, want)
	}
	if err := c.CreateIndex(ctx, "Upper", nil); !errors.Is(err, opensearch.ErrBadRequest) {
		t.Errorf("CreateIndex with an invalid name: %v, want ErrBadRequest", err)
	}
	// Hidden and dot-prefixed indexes are listed, so that callers can exclude them.
	if err := c.CreateIndex(ctx, ".osccr-hidden", map[string]any{"settings": map[string]any{"index.hidden": true, "index.number_of_replicas": 0}}); err != nil {
		t.Fatalf("CreateIndex hidden: %v", err)
	}

	if err := c.IndexDocument(ctx, name, "1", map[string]any{"title": "hello"}, opensearch.WithRefresh()); err != nil {
		t.Fatalf("IndexDocument: %v", err)
	}
	if err := c.IndexDocument(ctx, name, "2", json.RawMessage(`{"title":"world"}`)); err != nil {
		t.Fatalf("IndexDocument raw: %v", err)
	}
	if err := c.Refresh(ctx, name); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if n, err := c.Count(ctx, name); err != nil || n != 2 {
		t.Errorf("Count = %d, %v; want 2", n, err)
	}
	if _, err := c.Count(ctx, "nope"); !errors.Is(err, opensearch.ErrNotFound) {
		t.Errorf("Count of a missing index: %v, want ErrNotFound", err)
	}

	list, err := c.ListIndices(ctx)
	if err != nil {
		t.Fatalf("ListIndices: %v", err)
	}
	byName := map[string]opensearch.IndexSummary{}
	for _, s := range list {
		byName[s.Name] = s
	}
	a := byName[name]
	if a.Status != "open" || a.Health != opensearch.HealthGreen || a.DocsCount != 2 || a.StoreBytes <= 0 ||
		a.Primaries != 1 || a.Replicas != 0 || a.Hidden || a.UUID == "" || a.IsDotIndex() {
		t.Errorf("%s listed as %+v", name, a)
	}
	if h := byName[".osccr-hidden"]; !h.Hidden || !h.IsDotIndex() {
		t.Errorf(".osccr-hidden listed as %+v, want hidden dot index", h)
	}
	if !slices.IsSortedFunc(list, func(a, b opensearch.IndexSummary) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("ListIndices is not sorted by name")
	}

	def, err := c.GetIndex(ctx, name)
	if err != nil {
		t.Fatalf("GetIndex: %v", err)
	}
	if def.Name != name || def.Setting("index.number_of_shards") != "1" || def.Setting("index.number_of_replicas") != "0" {
		t.Errorf("GetIndex = %+v", def)
	}
	if _, ok := def.Aliases["alias-a"]; !ok {
		t.Errorf("aliases = %v, want alias-a", def.Aliases)
	}
	if !strings.Contains(string(def.Mappings), `"title":{"type":"text"}`) {
		t.Errorf("mappings = %s, want the title field", def.Mappings)
	}
	if byAlias, err := c.GetIndex(ctx, "alias-a"); err != nil || byAlias.Name != name {
		t.Errorf("GetIndex by alias = %+v, %v; want index %s", byAlias.Name, err, name)
	}
	// A definition read from one index creates an equivalent index: what copying leader
	// indexes needs.
	copyBody := map[string]any{"mappings": def.Mappings, "settings": map[string]any{"index.number_of_shards": def.Setting("index.number_of_shards")}}
	if err := c.CreateIndex(ctx, "idx-copy", copyBody); err != nil {
		t.Errorf("CreateIndex from a definition: %v", err)
	}

	if _, err := c.GetIndex(ctx, "nope"); !errors.Is(err, opensearch.ErrNotFound) {
		t.Errorf("GetIndex of a missing index: %v, want ErrNotFound", err)
	}
	for _, idx := range []string{name, "idx-copy", ".osccr-hidden"} {
		if err := c.DeleteIndex(ctx, idx); err != nil {
			t.Errorf("DeleteIndex %s: %v", idx, err)
		}
	}
	if _, err := c.GetIndex(ctx, name); !errors.Is(err, opensearch.ErrNotFound) {
		t.Errorf("GetIndex after delete: %v, want ErrNotFound", err)
	}
	if err := c.DeleteIndex(ctx, name); !errors.Is(err, opensearch.ErrNotFound) {
		t.Errorf("DeleteIndex twice: %v, want ErrNotFound", err)
	}
}

func testIndexMetadataUpdates(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.leader.client
	const name = "idx-meta"
	if err := c.CreateIndex(ctx, name, map[string]any{
		"settings": map[string]any{"index.number_of_replicas": 0},
		"aliases":  map[string]any{"meta-old": map[string]any{}},
	}); err != nil {
		t.Fatalf("CreateIndex: %v", err)
	}
	t.Cleanup(func() { _ = c.DeleteIndex(context.Background(), name) })

	if err := c.PutMapping(ctx, name, map[string]any{"properties": map[string]any{"added": map[string]any{"type": "keyword"}}}); err != nil {
		t.Fatalf("PutMapping: %v", err)
	}
	if err := c.PutMapping(ctx, name, map[string]any{"properties": map[string]any{"bad": map[string]any{"type": "nosuch"}}}); !errors.Is(err, opensearch.ErrBadRequest) {
		t.Errorf("PutMapping with an unknown type: %v, want ErrBadRequest", err)
	}
	if err := c.PutIndexSettings(ctx, name, map[string]any{"index.refresh_interval": "5s"}); err != nil {
		t.Fatalf("PutIndexSettings: %v", err)
	}
	err := c.UpdateAliases(ctx,
		opensearch.AliasAction{Op: opensearch.AliasRemove, Index: name, Alias: "meta-old"},
		opensearch.AliasAction{Op: opensearch.AliasAdd, Index: name, Alias: "meta-new", Definition: json.RawMessage(`{"is_write_index":true,"filter":{"term":{"added":"x"}}}`)},
	)
	if err != nil {
		t.Fatalf("UpdateAliases: %v", err)
	}
	def, err := c.GetIndex(ctx, name)
	if err != nil {
		t.Fatalf("GetIndex: %v", err)
	}
	if !strings.Contains(string(def.Mappings), `"added":{"type":"keyword"}`) {
		t.Errorf("mappings = %s, want the added field", def.Mappings)
	}
	if def.Setting("index.refresh_interval") != "5s" {
		t.Errorf("refresh_interval = %q, want 5s", def.Setting("index.refresh_interval"))
	}
	if _, ok := def.Aliases["meta-old"]; ok || len(def.Aliases) != 1 {
		t.Errorf("aliases = %v, want only meta-new", def.Aliases)
	}
	if a := string(def.Aliases["meta-new"]); !strings.Contains(a, `"is_write_index":true`) || !strings.Contains(a, `"filter"`) {
		t.Errorf("meta-new = %s, want its filter and write flag", a)
	}
	if err := c.UpdateAliases(ctx, opensearch.AliasAction{Op: opensearch.AliasRemove, Index: name, Alias: "no-such-alias"}); !errors.Is(err, opensearch.ErrNotFound) {
		t.Errorf("removing a missing alias: %v, want ErrNotFound", err)
	}

	// A write block is what a follower index looks like to writers.
	if err := c.PutIndexSettings(ctx, name, map[string]any{"index.blocks.write": true}); err != nil {
		t.Fatalf("set write block: %v", err)
	}
	if err := c.IndexDocument(ctx, name, "1", map[string]any{"added": "x"}); !errors.Is(err, opensearch.ErrBlocked) {
		t.Errorf("write to a blocked index: %v, want ErrBlocked", err)
	}
	err = c.Bulk(ctx, name, []opensearch.Doc{{ID: "1", Source: map[string]any{"added": "x"}}, {ID: "2", Source: map[string]any{"added": "y"}}})
	if !errors.Is(err, opensearch.ErrBlocked) || !strings.Contains(err.Error(), "2 of 2 documents failed") {
		t.Errorf("bulk into a blocked index: %v, want ErrBlocked for 2 of 2 documents", err)
	}
	if err := c.PutIndexSettings(ctx, name, map[string]any{"index.blocks.write": false}); err != nil {
		t.Fatalf("remove write block: %v", err)
	}
	if err := c.IndexDocument(ctx, name, "1", map[string]any{"added": "x"}); err != nil {
		t.Errorf("write after unblocking: %v", err)
	}
}

// testBulkAndDocumentIDs writes more documents than one search can return (10,000) and reads
// every id back.
func testBulkAndDocumentIDs(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.leader.client
	const name, total = "idx-bulk", 12_345
	if err := c.CreateIndex(ctx, name, map[string]any{"settings": map[string]any{"index.number_of_shards": 2, "index.number_of_replicas": 0}}); err != nil {
		t.Fatalf("CreateIndex: %v", err)
	}
	t.Cleanup(func() { _ = c.DeleteIndex(context.Background(), name) })

	docs := make([]opensearch.Doc, total)
	want := make([]string, total)
	for i := range docs {
		id := fmt.Sprintf("doc-%05d", i)
		docs[i] = opensearch.Doc{ID: id, Source: map[string]any{"n": i}}
		want[i] = id
	}
	started := time.Now()
	if err := c.Bulk(ctx, name, docs, opensearch.WithRefresh()); err != nil {
		t.Fatalf("Bulk: %v", err)
	}
	t.Logf("bulk wrote %d documents in %s", total, time.Since(started).Round(time.Millisecond))
	if n, err := c.Count(ctx, name); err != nil || n != total {
		t.Fatalf("Count = %d, %v; want %d", n, err, total)
	}

	started = time.Now()
	ids, err := c.DocumentIDs(ctx, name)
	if err != nil {
		t.Fatalf("DocumentIDs: %v", err)
	}
	t.Logf("read %d ids in %s", len(ids), time.Since(started).Round(time.Millisecond))
	if !slices.Equal(ids, want) {
		t.Errorf("DocumentIDs returned %d ids, want the %d written, sorted", len(ids), total)
	}

	// Sequence numbers: every write is one operation on one primary shard.
	seqs, err := c.PrimarySeqNos(ctx, name)
	if err != nil {
		t.Fatalf("PrimarySeqNos: %v", err)
	}
	var ops int64
	for _, s := range seqs {
		ops += s.MaxSeqNo + 1
		if s.LocalCheckpoint != s.MaxSeqNo || s.GlobalCheckpoint != s.MaxSeqNo {
			t.Errorf("shard sequence numbers %+v: want every checkpoint at the max after a refreshed bulk", s)
		}
	}
	if ops != total {
		t.Errorf("PrimarySeqNos %+v: %d operations over the primaries, want %d", seqs, ops, total)
	}
	if _, err := c.PrimarySeqNos(ctx, "nope"); !errors.Is(err, opensearch.ErrNotFound) {
		t.Errorf("PrimarySeqNos of a missing index: %v, want ErrNotFound", err)
	}

	// Rewriting existing ids replaces documents rather than adding any.
	if err := c.Bulk(ctx, name, opensearch.DocsFromMap(map[string]any{"doc-00001": map[string]any{"n": -1}, "extra": map[string]any{"n": -2}}), opensearch.WithRefresh()); err != nil {
		t.Fatalf("Bulk from map: %v", err)
	}
	if n, err := c.Count(ctx, name); err != nil || n != total+1 {
		t.Errorf("Count = %d, %v; want %d", n, err, total+1)
	}
	if ids, err := c.DocumentIDs(ctx, "nope"); !errors.Is(err, opensearch.ErrNotFound) {
		t.Errorf("DocumentIDs of a missing index = %d ids, %v; want ErrNotFound", len(ids), err)
	}
	if err := c.CreateIndex(ctx, "idx-empty", nil); err != nil {
		t.Fatalf("CreateIndex: %v", err)
	}
	t.Cleanup(func() { _ = c.DeleteIndex(context.Background(), "idx-empty") })
	if ids, err := c.DocumentIDs(ctx, "idx-empty"); err != nil || len(ids) != 0 {
		t.Errorf("DocumentIDs of an empty index = %v, %v", ids, err)
	}
}
