package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
)

// TestSyncTemplates reconciles the configuration (templates, pipelines, stored scripts) between
// two real clusters: the application's pipeline and stored script work on the follower, changes
// and deletions follow, an object osccr did not write is reported and left alone, an equal one
// adopted. It then measures propagation (watch + sync) per kind.
func TestSyncTemplates(t *testing.T) {
	d := testcluster.Distribution(t)
	base := testcluster.Dir(t)
	ln, fn := testcluster.Start(t, d, base, "tpl-leader"), testcluster.Start(t, d, base, "tpl-follower")
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	open := func(url string) *opensearch.Client {
		c, err := opensearch.New(opensearch.Config{URLs: []string{url}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	leader, follower := open(ln.HTTPURL()), open(fn.HTTPURL())
	a := &Activities{}
	in := contract.SyncTemplatesInput{Leader: contract.ClusterRef{Name: "tpl-leader", URL: ln.HTTPURL()}, Follower: contract.ClusterRef{Name: "tpl-follower", URL: fn.HTTPURL()}}
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// call sends a request to the follower as the application would, and decodes the answer.
	call := func(method, path, body string, out any) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, fn.HTTPURL()+path, strings.NewReader(body))
		must(err)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		must(err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
		}
		if out != nil {
			must(json.Unmarshal(b, out))
		}
	}
	stampV1 := raw(`{"description":"stamps","processors":[{"set":{"field":"stamped","value":"v1"}}]}`)
	must(leader.PutComponentTemplate(ctx, "shared-settings", raw(`{"template":{"settings":{"number_of_replicas":0}}}`)))
	must(leader.PutIndexTemplate(ctx, "logs", raw(`{"index_patterns":["logs-*"],"composed_of":["shared-settings"],"priority":5}`)))
	must(leader.PutIndexTemplate(ctx, ".system-thing", raw(`{"index_patterns":[".system-thing*"],"priority":1}`)))
	must(leader.PutIngestPipeline(ctx, "stamp", stampV1))
	must(leader.PutIngestPipeline(ctx, "clash", raw(`{"processors":[{"set":{"field":"side","value":"leader"}}]}`)))
	must(leader.PutIngestPipeline(ctx, "same", raw(`{"processors":[{"set":{"field":"same","value":true}}]}`)))
	must(leader.PutSearchPipeline(ctx, "only-public", raw(`{"request_processors":[{"filter_query":{"query":{"term":{"public":true}}}}]}`)))
	must(leader.PutStoredScript(ctx, "bump", raw(`{"lang":"painless","source":"ctx._source.count += params.n"}`)))
	must(leader.PutStoredScript(ctx, "by-user", raw(`{"lang":"mustache","source":{"query":{"term":{"user":"{{user}}"}}}}`)))
	must(leader.PutPersistentClusterSettings(ctx, map[string]any{"action.auto_create_index": false, "search.max_buckets": 20000, "indices.recovery.max_bytes_per_sec": "50mb"}))
	must(follower.PutIndexTemplate(ctx, "follower-own", raw(`{"index_patterns":["own-*"],"priority":1}`)))
	must(follower.PutIngestPipeline(ctx, "clash", raw(`{"processors":[{"set":{"field":"side","value":"follower"}}]}`)))
	must(follower.PutIngestPipeline(ctx, "same", raw(`{"processors":[{"set":{"field":"same","value":true}}]}`)))

	conflicts := func(s contract.TemplateSync) []string {
		var out []string
		for _, c := range s.Conflicts {
			out = append(out, c.Object)
		}
		return out
	}
	steps := []struct {
		name          string
		change        func()
		wantPut       []string
		wantDeleted   []string
		wantConflicts []string
	}{
		{"first sync", func() {},
			[]string{"setting/action.auto_create_index", "setting/search.max_buckets", "script/bump", "script/by-user", "pipeline/stamp", "search-pipeline/only-public", "component/shared-settings", "index/logs"}, nil,
			[]string{"pipeline/clash"}},
		{"nothing changed", func() {}, nil, nil, []string{"pipeline/clash"}},
		{"pipeline and index template changed", func() {
			must(leader.PutIngestPipeline(ctx, "stamp", raw(`{"processors":[{"set":{"field":"stamped","value":"v2"}}]}`)))
			must(leader.PutIndexTemplate(ctx, "logs", raw(`{"index_patterns":["logs-*","app-*"],"composed_of":["shared-settings"],"priority":5}`)))
		}, []string{"pipeline/stamp", "index/logs"}, nil, []string{"pipeline/clash"}},
		{"conflict resolved on the follower: copied", func() {
			must(follower.DeleteIngestPipeline(ctx, "clash"))
		}, []string{"pipeline/clash"}, nil, nil},
		{"a copy changed on the follower is not overwritten", func() {
			must(follower.PutStoredScript(ctx, "bump", raw(`{"lang":"painless","source":"ctx._source.count -= params.n"}`)))
			must(leader.PutStoredScript(ctx, "bump", raw(`{"lang":"painless","source":"ctx._source.count += 2 * params.n"}`)))
		}, nil, nil, []string{"script/bump"}},
		{"deleted on the leader", func() {
			must(follower.PutStoredScript(ctx, "bump", raw(`{"lang":"painless","source":"ctx._source.count += params.n"}`)))
			must(leader.DeleteIndexTemplate(ctx, "logs"))
			must(leader.DeleteComponentTemplate(ctx, "shared-settings"))
			must(leader.DeleteIngestPipeline(ctx, "clash"))
			must(leader.DeleteSearchPipeline(ctx, "only-public"))
			must(leader.DeleteStoredScript(ctx, "by-user"))
			must(leader.PutPersistentClusterSettings(ctx, map[string]any{"search.max_buckets": nil}))
		}, []string{"script/bump"}, []string{"index/logs", "component/shared-settings", "search-pipeline/only-public", "pipeline/clash", "script/by-user", "setting/search.max_buckets"}, nil},
	}
	for _, step := range steps {
		step.change()
		got, err := a.SyncTemplates(ctx, in)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if !slices.Equal(got.Put, step.wantPut) || !slices.Equal(got.Deleted, step.wantDeleted) || !slices.Equal(conflicts(got), step.wantConflicts) {
			t.Fatalf("%s: put %v deleted %v conflicts %v, want put %v deleted %v conflicts %v", step.name, got.Put, got.Deleted, got.Conflicts, step.wantPut, step.wantDeleted, step.wantConflicts)
		}
		if !slices.Contains(got.Managed, "pipeline/same") || got.Digests["pipeline/same"] == "" {
			t.Errorf("%s: the follower's pipeline equal to the leader's was not adopted: managed %v", step.name, got.Managed)
		}
		in.Managed, in.Digests = got.Managed, got.Digests
		switch step.name {
		case "first sync":
			// What verify says a failover would lack: the conflicting pipeline only.
			cmp, err := compareConfiguration(ctx, leader, follower)
			must(err)
			for _, c := range cmp {
				want := []string(nil)
				if c.Kind == "pipeline" {
					want = []string{"clash"}
				}
				if len(c.Missing) != 0 || !slices.Equal(c.Differing, want) {
					t.Errorf("verify's %s comparison %+v, want nothing missing and differing %v", c.Kind, c, want)
				}
			}
			// The application on the follower (as after a promotion): its index names the
			// pipeline, its update the stored script, its search the search template.
			call(http.MethodPut, "/app", `{"settings":{"number_of_shards":1,"number_of_replicas":0,"index.default_pipeline":"stamp"}}`, nil)
			call(http.MethodPut, "/app/_doc/1?refresh=true", `{"count":1,"user":"ann"}`, nil)
			call(http.MethodPost, "/app/_update/1?refresh=true", `{"script":{"id":"bump","params":{"n":2}}}`, nil)
			var doc struct {
				Source struct {
					Count   int    `json:"count"`
					Stamped string `json:"stamped"`
				} `json:"_source"`
			}
			call(http.MethodGet, "/app/_doc/1", "", &doc)
			if doc.Source.Stamped != "v1" || doc.Source.Count != 3 {
				t.Errorf("follower document %+v: want stamped v1 by the copied pipeline and count 3 by the copied script", doc.Source)
			}
			var hits struct {
				Hits struct {
					Total struct {
						Value int `json:"value"`
					} `json:"total"`
				} `json:"hits"`
			}
			call(http.MethodPost, "/app/_search/template", `{"id":"by-user","params":{"user":"ann"}}`, &hits)
			if hits.Hits.Total.Value != 1 {
				t.Errorf("search template by-user on the follower found %d documents, want 1", hits.Hits.Total.Value)
			}
			// The leader's action.auto_create_index: false holds on the follower (a write to a
			// missing index is refused); its recovery throttle, the leader's own, did not travel.
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, fn.HTTPURL()+"/not-created/_doc/1", strings.NewReader(`{"a":1}`))
			must(err)
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			must(err)
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "index_not_found") {
				t.Errorf("write to a missing index on the follower: %d %s, want 404 index_not_found (auto-create off as on the leader)", res.StatusCode, body)
			}
			if _, ok := m0(t, ctx, follower).PersistentSettings["indices.recovery.max_bytes_per_sec"]; ok {
				t.Error("the leader's indices.recovery.max_bytes_per_sec reached the follower: only the application's settings travel")
			}
		case "pipeline and index template changed":
			body, err := follower.GetIndexTemplate(ctx, "logs")
			must(err)
			var tpl struct {
				IndexPatterns []string `json:"index_patterns"`
			}
			if json.Unmarshal(body, &tpl) != nil || !slices.Equal(tpl.IndexPatterns, []string{"logs-*", "app-*"}) {
				t.Errorf("follower's logs template %s, want the leader's new patterns", body)
			}
		case "a copy changed on the follower is not overwritten":
			m, err := follower.ClusterMetadata(ctx)
			must(err)
			if !strings.Contains(string(m.StoredScripts["bump"]), "-=") {
				t.Errorf("the follower's changed script was overwritten: %s", m.StoredScripts["bump"])
			}
		}
	}
	if _, err := follower.GetIndexTemplate(ctx, ".system-thing"); !errors.Is(err, opensearch.ErrNotFound) {
		t.Errorf("the leader's dot-prefixed template reached the follower: %v", err)
	}
	if _, err := follower.GetIndexTemplate(ctx, "follower-own"); err != nil {
		t.Errorf("the follower's own template was touched: %v", err)
	}
	m, err := follower.ClusterMetadata(ctx)
	must(err)
	for kind, objects := range map[string]map[string]json.RawMessage{"pipeline": m.IngestPipelines, "search pipeline": m.SearchPipelines, "script": m.StoredScripts} {
		for _, gone := range []string{"clash", "only-public", "by-user"} {
			if _, ok := objects[gone]; ok {
				t.Errorf("%s %s deleted on the leader is still on the follower", kind, gone)
			}
		}
	}
	// An entry recorded before digests is osccr's whatever its body.
	must(leader.PutIngestPipeline(ctx, "legacy", stampV1))
	must(follower.PutIngestPipeline(ctx, "legacy", raw(`{"processors":[]}`)))
	got, err := a.SyncTemplates(ctx, contract.SyncTemplatesInput{Leader: in.Leader, Follower: in.Follower, Managed: append(slices.Clone(in.Managed), "pipeline/legacy"), Digests: in.Digests})
	must(err)
	if !slices.Contains(got.Put, "pipeline/legacy") || len(got.Conflicts) != 0 {
		t.Errorf("legacy managed entry: put %v conflicts %v, want pipeline/legacy put", got.Put, got.Conflicts)
	}
	in.Managed, in.Digests = got.Managed, got.Digests

	in = syncEverySetting(t, ctx, a, in, leader, follower)
	measurePropagation(t, ctx, a, in, leader, follower)
}

// m0 reads a cluster's metadata (with its persistent settings) or fails the test.
func m0(t *testing.T, ctx context.Context, c *opensearch.Client) opensearch.ClusterMetadata {
	t.Helper()
	m, err := c.ClusterMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// syncEverySetting sets every copied setting on the leader (the node accepts each: they exist
// and are dynamic in this version), syncs, finds them on the follower, then removes them on
// the leader and finds them removed on the follower.
func syncEverySetting(t *testing.T, ctx context.Context, a *Activities, in contract.SyncTemplatesInput, leader, follower *opensearch.Client) contract.SyncTemplatesInput {
	values := map[string]any{
		"action.auto_create_index":             "+app-*,-*",
		"action.destructive_requires_name":     true,
		"action.search.shard_count.limit":      1000,
		"cluster.indices.close.enable":         true,
		"cluster.max_shards_per_node":          2000,
		"indices.id_field_data.enabled":        true,
		"script.max_compilations_rate":         "150/5m",
		"search.allow_expensive_queries":       true,
		"search.default_allow_partial_results": true,
		"search.default_keep_alive":            "2m",
		"search.default_search_timeout":        "30s",
		"search.max_buckets":                   30000,
		"search.max_keep_alive":                "2h",
		"search.max_open_scroll_context":       600,
	}
	if keys := slices.Sorted(maps.Keys(values)); !slices.Equal(keys, copiedSettingKeys) {
		t.Fatalf("test values for %v, want one for each copied setting %v", keys, copiedSettingKeys)
	}
	if err := leader.PutPersistentClusterSettings(ctx, values); err != nil {
		t.Fatalf("the leader refused a copied setting: %v", err)
	}
	got, err := a.SyncTemplates(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	in.Managed, in.Digests = got.Managed, got.Digests
	lm, fm := m0(t, ctx, leader), m0(t, ctx, follower)
	for _, key := range copiedSettingKeys {
		if l, f := lm.PersistentSettings[key], fm.PersistentSettings[key]; len(l) == 0 || string(l) != string(f) {
			t.Errorf("setting %s: leader %s, follower %s", key, l, f)
		}
	}
	if len(got.Conflicts) != 0 {
		t.Errorf("conflicts %v syncing every setting", got.Conflicts)
	}
	unset := map[string]any{}
	for key := range values {
		unset[key] = nil
	}
	if err := leader.PutPersistentClusterSettings(ctx, unset); err != nil {
		t.Fatal(err)
	}
	if got, err = a.SyncTemplates(ctx, in); err != nil {
		t.Fatal(err)
	}
	in.Managed, in.Digests = got.Managed, got.Digests
	fm = m0(t, ctx, follower)
	for _, key := range copiedSettingKeys {
		if v, ok := fm.PersistentSettings[key]; ok {
			t.Errorf("setting %s removed on the leader is still %s on the follower", key, v)
		}
	}
	return in
}

// measurePropagation changes one object of each kind on the leader, interleaved, and times how
// long osccr takes to have it on the follower: the watch (WatchLeader) sees the change, the sync
// (SyncTemplates) copies it, as the integration workflow does (less the workflow's own
// scheduling). It logs p50/p99 per kind and fails above the bound docs/configuration-sync.md
// states.
func measurePropagation(t *testing.T, ctx context.Context, a *Activities, in contract.SyncTemplatesInput, leader, follower *opensearch.Client) {
	const trials = 20
	const bound = 5 * time.Second
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	watchIn := contract.WatchInput{Leader: in.Leader, Follower: in.Follower, MaxWait: 20 * time.Second}
	watch := func() (contract.Observation, error) {
		v, err := env.ExecuteActivity(a.WatchLeader, watchIn)
		if err != nil {
			return contract.Observation{}, err
		}
		var obs contract.Observation
		return obs, v.Get(&obs)
	}
	known, err := watch()
	if err != nil {
		t.Fatal(err)
	}
	kinds := []struct {
		name string
		put  func(i int) error
		has  func(m opensearch.ClusterMetadata, i int) bool
	}{
		{"ingest pipeline", func(i int) error {
			return leader.PutIngestPipeline(ctx, "bench", json.RawMessage(fmt.Sprintf(`{"processors":[{"set":{"field":"n","value":%d}}]}`, i)))
		}, func(m opensearch.ClusterMetadata, i int) bool {
			return bytes.Contains(m.IngestPipelines["bench"], fmt.Appendf(nil, `"value":%d`, i))
		}},
		{"search pipeline", func(i int) error {
			return leader.PutSearchPipeline(ctx, "bench", json.RawMessage(fmt.Sprintf(`{"request_processors":[{"filter_query":{"query":{"term":{"n":%d}}}}]}`, i)))
		}, func(m opensearch.ClusterMetadata, i int) bool {
			return bytes.Contains(m.SearchPipelines["bench"], fmt.Appendf(nil, `"n":%d`, i))
		}},
		{"stored script", func(i int) error {
			return leader.PutStoredScript(ctx, "bench", json.RawMessage(fmt.Sprintf(`{"lang":"painless","source":"ctx._source.n = %d"}`, i)))
		}, func(m opensearch.ClusterMetadata, i int) bool {
			return bytes.Contains(m.StoredScripts["bench"], fmt.Appendf(nil, `= %d`, i))
		}},
		{"cluster setting", func(i int) error {
			return leader.PutPersistentClusterSettings(ctx, map[string]any{"search.max_buckets": 10000 + i})
		}, func(m opensearch.ClusterMetadata, i int) bool {
			return string(m.PersistentSettings["search.max_buckets"]) == fmt.Sprintf(`"%d"`, 10000+i)
		}},
		{"index template", func(i int) error {
			return leader.PutIndexTemplate(ctx, "bench", json.RawMessage(fmt.Sprintf(`{"index_patterns":["bench-%d-*"]}`, i)))
		}, func(m opensearch.ClusterMetadata, i int) bool {
			return bytes.Contains(m.IndexTemplates["bench"], fmt.Appendf(nil, `bench-%d-*`, i))
		}},
	}
	took := map[string][]time.Duration{}
	for i := range trials {
		for _, k := range kinds {
			began := time.Now()
			if err := k.put(i); err != nil {
				t.Fatal(err)
			}
			for {
				if time.Since(began) > bound {
					t.Fatalf("%s change %d not on the follower after %v", k.name, i, bound)
				}
				watchIn.Known = &known
				obs, err := watch()
				if err != nil {
					t.Fatal(err)
				}
				known = obs
				if obs.Leader == nil || obs.Leader.Templates == "" {
					continue
				}
				sync, err := a.SyncTemplates(ctx, in)
				if err != nil {
					t.Fatal(err)
				}
				in.Managed, in.Digests = sync.Managed, sync.Digests
				m, err := follower.ClusterMetadata(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if k.has(m, i) {
					break
				}
			}
			took[k.name] = append(took[k.name], time.Since(began))
		}
	}
	for _, k := range kinds {
		d := took[k.name]
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		p50, p99 := d[len(d)/2], d[(len(d)*99+99)/100-1]
		t.Logf("propagation %-15s n=%d p50=%v p99=%v max=%v", k.name, len(d), p50.Round(time.Millisecond), p99.Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond))
		if p99 > bound {
			t.Errorf("%s propagation p99 %v above the stated bound %v", k.name, p99, bound)
		}
	}
}
