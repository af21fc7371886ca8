package localnode_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/testcluster"
)

// standardModules are the modules of OpenSearch's min distribution that `make opensearch` gives
// local nodes (docs/opensearch.md says which are left out and why).
var standardModules = []string{
	"aggs-matrix-stats", "analysis-common", "cache-common", "geo", "ingest-common", "ingest-geoip",
	"ingest-user-agent", "lang-expression", "lang-mustache", "lang-painless", "mapper-extras",
	"parent-join", "percolator", "rank-eval", "reindex", "repository-url", "search-pipeline-common",
	"systemd", "transport-netty4",
}

// installedPlugins are the plugins `make opensearch` installs into the plain distribution.
var installedPlugins = []string{
	localnode.CCRPluginName, "opensearch-index-management", "opensearch-job-scheduler",
}

// TestModulesAndPlugins starts one node of the distribution and proves every standard module
// and installed plugin with a request that only it can answer: a module that is missing, or
// present but unable to work (a lost permission, a missing jar), fails its subtest, named.
// cache-common and systemd have no request of their own (the tiered cache needs a disk cache
// plugin and an experimental flag; systemd only talks to systemd): the inventory checks that
// the node loaded them. ISM is proven end to end: a policy attached to an index and explained,
// then the job-scheduler runs the ISM job, which moves the index into the policy's first state.
func TestModulesAndPlugins(t *testing.T) {
	d := testcluster.Distribution(t)
	dir := filepath.Join(testcluster.Dir(t), "modules")
	repo := filepath.Join(dir, "snapshots")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testcluster.StartTimeout)
	defer cancel()
	started := time.Now()
	node, err := d.Start(ctx, localnode.Spec{
		Dir: dir, Cluster: "modules", HeapMB: 256,
		// ISM's job runs every minute (the least it allows) rather than every 5.
		Settings:     map[string]string{"plugins.index_state_management.job_interval": "1"},
		ListSettings: map[string][]string{"path.repo": {repo}},
	})
	if err != nil {
		t.Fatalf("start a node of %s: %v", d.Home, err)
	}
	t.Cleanup(func() { testcluster.Stop(t, node) })
	t.Logf("node healthy after %s", time.Since(started).Round(time.Millisecond))
	c := &rest{url: node.HTTPURL()}

	t.Run("inventory", func(t *testing.T) {
		var info struct {
			Nodes map[string]struct {
				Modules []struct{ Name string } `json:"modules"`
				Plugins []struct{ Name string } `json:"plugins"`
			} `json:"nodes"`
		}
		c.must(t, "GET", "/_nodes/plugins", nil, &info)
		for _, n := range info.Nodes {
			var modules, plugins []string
			for _, m := range n.Modules {
				modules = append(modules, m.Name)
			}
			for _, p := range n.Plugins {
				plugins = append(plugins, p.Name)
			}
			if missing := absent(standardModules, modules); len(missing) > 0 {
				t.Errorf("the node lacks the modules %v (it has %v): run `make opensearch`", missing, modules)
			}
			if missing := absent(installedPlugins, plugins); len(missing) > 0 {
				t.Errorf("the node lacks the plugins %v (it has %v): run `make opensearch`", missing, plugins)
			}
		}
	})

	// ISM first: the job that proves job-scheduler needs a minute, which the other subtests use.
	t.Run("opensearch-index-management", func(t *testing.T) {
		c.must(t, "PUT", "/_plugins/_ism/policies/hot-delete", obj{"policy": obj{
			"description":   "hot, then delete after 30 days",
			"default_state": "hot",
			"states": []obj{
				{"name": "hot", "actions": []obj{}, "transitions": []obj{{"state_name": "delete", "conditions": obj{"min_index_age": "30d"}}}},
				{"name": "delete", "actions": []obj{{"delete": obj{}}}, "transitions": []obj{}},
			},
		}}, nil)
		c.must(t, "PUT", "/ism-1", nil, nil)
		var added struct {
			Updated  int  `json:"updated_indices"`
			Failures bool `json:"failures"`
		}
		c.must(t, "POST", "/_plugins/_ism/add/ism-1", obj{"policy_id": "hot-delete"}, &added)
		if added.Updated != 1 || added.Failures {
			t.Fatalf("attaching the policy to ism-1 updated %d indices (failures %v), want 1", added.Updated, added.Failures)
		}
		// ISM records the attachment in its own index, which explain reads once it is refreshed.
		c.await(t, 30*time.Second, "explain to name policy hot-delete for ism-1", func() (bool, string) {
			e := c.explain(t, "ism-1")
			return e.PolicyID == "hot-delete", e.raw
		})
	})

	t.Run("ingest-common", func(t *testing.T) {
		c.must(t, "PUT", "/_ingest/pipeline/access-log", obj{"processors": []obj{
			{"set": obj{"field": "env", "value": "prod"}},
			{"grok": obj{"field": "message", "patterns": []string{"%{IP:client} %{WORD:method} %{URIPATHPARAM:path}"}}},
		}}, nil)
		c.must(t, "PUT", "/logs/_doc/1?pipeline=access-log&refresh=true", obj{"message": "10.1.2.3 GET /index.html"}, nil)
		src := c.source(t, "logs", "1")
		if src["env"] != "prod" || src["client"] != "10.1.2.3" || src["method"] != "GET" || src["path"] != "/index.html" {
			t.Fatalf("the pipeline's set and grok did not shape the document: %v", src)
		}
	})

	t.Run("ingest-user-agent", func(t *testing.T) {
		c.must(t, "PUT", "/_ingest/pipeline/ua", obj{"processors": []obj{{"user_agent": obj{"field": "agent"}}}}, nil)
		c.must(t, "PUT", "/visits/_doc/1?pipeline=ua&refresh=true",
			obj{"agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"}, nil)
		ua, _ := c.source(t, "visits", "1")["user_agent"].(map[string]any)
		if ua["name"] != "Firefox" {
			t.Fatalf("user_agent did not recognise Firefox: %v", ua)
		}
	})

	t.Run("ingest-geoip", func(t *testing.T) {
		c.must(t, "PUT", "/_ingest/pipeline/geo", obj{"processors": []obj{{"geoip": obj{"field": "ip"}}}}, nil)
		c.must(t, "PUT", "/clients/_doc/1?pipeline=geo&refresh=true", obj{"ip": "8.8.8.8"}, nil)
		geo, _ := c.source(t, "clients", "1")["geoip"].(map[string]any)
		if geo["country_iso_code"] != "US" {
			t.Fatalf("geoip (GeoLite2 databases in the module) did not place 8.8.8.8 in the US: %v", geo)
		}
	})

	t.Run("lang-painless", func(t *testing.T) {
		c.must(t, "PUT", "/counters/_doc/1?refresh=true", obj{"count": 1}, nil)
		c.must(t, "POST", "/counters/_update/1?refresh=true", obj{"script": obj{
			"lang": "painless", "source": "ctx._source.count += params.n", "params": obj{"n": 4},
		}}, nil)
		if got := c.source(t, "counters", "1")["count"]; got != 5.0 {
			t.Fatalf("the painless update left count = %v, want 5", got)
		}
	})

	t.Run("lang-expression", func(t *testing.T) {
		c.must(t, "PUT", "/prices/_doc/1?refresh=true", obj{"price": 21}, nil)
		var res searchResult
		c.must(t, "POST", "/prices/_search", obj{"script_fields": obj{"doubled": obj{"script": obj{
			"lang": "expression", "source": "doc['price'].value * 2",
		}}}}, &res)
		if len(res.Hits.Hits) != 1 || fmt.Sprint(res.Hits.Hits[0].Fields["doubled"]) != "[42]" {
			t.Fatalf("the expression script field gave %+v, want [42]", res.Hits.Hits)
		}
	})

	t.Run("lang-mustache", func(t *testing.T) {
		c.must(t, "PUT", "/tagged/_doc/1?refresh=true", obj{"tag": "red"}, nil)
		c.must(t, "PUT", "/tagged/_doc/2?refresh=true", obj{"tag": "blue"}, nil)
		var res searchResult
		c.must(t, "POST", "/tagged/_search/template", obj{
			"source": `{"query": {"match": {"tag": "{{color}}"}}}`, "params": obj{"color": "blue"},
		}, &res)
		if len(res.Hits.Hits) != 1 || res.Hits.Hits[0].ID != "2" {
			t.Fatalf("the mustache search template found %+v, want document 2", res.Hits.Hits)
		}
	})

	t.Run("analysis-common", func(t *testing.T) {
		c.must(t, "PUT", "/english", obj{"settings": obj{"analysis": obj{"analyzer": obj{"stemmed": obj{
			"type": "custom", "tokenizer": "standard", "filter": []string{"lowercase", "porter_stem"},
		}}}}}, nil)
		var res struct {
			Tokens []struct{ Token string } `json:"tokens"`
		}
		c.must(t, "POST", "/english/_analyze", obj{"analyzer": "stemmed", "text": "Running Foxes"}, &res)
		var tokens []string
		for _, tok := range res.Tokens {
			tokens = append(tokens, tok.Token)
		}
		if !slices.Equal(tokens, []string{"run", "fox"}) {
			t.Fatalf("the porter_stem analyzer gave %v, want [run fox]", tokens)
		}
	})

	t.Run("mapper-extras", func(t *testing.T) {
		c.must(t, "PUT", "/sizes", obj{"mappings": obj{"properties": obj{
			"price": obj{"type": "scaled_float", "scaling_factor": 100},
			"title": obj{"type": "search_as_you_type"},
		}}}, nil)
		c.must(t, "PUT", "/sizes/_doc/1?refresh=true", obj{"price": 9.99, "title": "quick brown fox"}, nil)
		if n := c.count(t, "sizes", obj{"range": obj{"price": obj{"gte": 9.98, "lte": 10}}}); n != 1 {
			t.Fatalf("a range query on the scaled_float found %d documents, want 1", n)
		}
	})

	t.Run("parent-join", func(t *testing.T) {
		c.must(t, "PUT", "/qa", obj{"mappings": obj{"properties": obj{
			"relation": obj{"type": "join", "relations": obj{"question": "answer"}},
		}}}, nil)
		c.must(t, "PUT", "/qa/_doc/q1", obj{"text": "why?", "relation": "question"}, nil)
		c.must(t, "PUT", "/qa/_doc/a1?routing=q1&refresh=true", obj{"text": "because", "relation": obj{"name": "answer", "parent": "q1"}}, nil)
		var res searchResult
		c.must(t, "POST", "/qa/_search", obj{"query": obj{"has_child": obj{"type": "answer", "query": obj{"match_all": obj{}}}}}, &res)
		if len(res.Hits.Hits) != 1 || res.Hits.Hits[0].ID != "q1" {
			t.Fatalf("has_child found %+v, want question q1", res.Hits.Hits)
		}
	})

	t.Run("percolator", func(t *testing.T) {
		c.must(t, "PUT", "/alerts", obj{"mappings": obj{"properties": obj{
			"query": obj{"type": "percolator"}, "message": obj{"type": "text"},
		}}}, nil)
		c.must(t, "PUT", "/alerts/_doc/disk?refresh=true", obj{"query": obj{"match": obj{"message": "disk full"}}}, nil)
		var res searchResult
		c.must(t, "POST", "/alerts/_search", obj{"query": obj{"percolate": obj{
			"field": "query", "document": obj{"message": "the disk is full"},
		}}}, &res)
		if len(res.Hits.Hits) != 1 || res.Hits.Hits[0].ID != "disk" {
			t.Fatalf("percolate found %+v, want the stored query disk", res.Hits.Hits)
		}
	})

	t.Run("reindex", func(t *testing.T) {
		c.must(t, "POST", "/_bulk?refresh=true", ndjson(
			obj{"index": obj{"_index": "src", "_id": "1"}}, obj{"n": 1},
			obj{"index": obj{"_index": "src", "_id": "2"}}, obj{"n": 2},
		), nil)
		var res struct {
			Created int `json:"created"`
		}
		c.must(t, "POST", "/_reindex?refresh=true", obj{"source": obj{"index": "src"}, "dest": obj{"index": "dst"}}, &res)
		if res.Created != 2 || c.count(t, "dst", obj{"match_all": obj{}}) != 2 {
			t.Fatalf("_reindex created %d documents, want 2 in dst", res.Created)
		}
	})

	t.Run("rank-eval", func(t *testing.T) {
		c.must(t, "POST", "/_bulk?refresh=true", ndjson(
			obj{"index": obj{"_index": "books", "_id": "1"}}, obj{"title": "opensearch in action"},
			obj{"index": obj{"_index": "books", "_id": "2"}}, obj{"title": "cooking"},
		), nil)
		var res struct {
			Score float64 `json:"metric_score"`
		}
		c.must(t, "POST", "/books/_rank_eval", obj{
			"requests": []obj{{
				"id": "q", "request": obj{"query": obj{"match": obj{"title": "opensearch"}}},
				"ratings": []obj{{"_index": "books", "_id": "1", "rating": 1}},
			}},
			"metric": obj{"precision": obj{"k": 10, "relevant_rating_threshold": 1}},
		}, &res)
		if res.Score != 1 {
			t.Fatalf("rank_eval precision = %v, want 1", res.Score)
		}
	})

	t.Run("aggs-matrix-stats", func(t *testing.T) {
		c.must(t, "POST", "/_bulk?refresh=true", ndjson(
			obj{"index": obj{"_index": "points"}}, obj{"x": 1, "y": 2},
			obj{"index": obj{"_index": "points"}}, obj{"x": 2, "y": 4},
		), nil)
		var res struct {
			Aggs struct {
				Stats struct {
					Fields []struct {
						Name  string  `json:"name"`
						Count int     `json:"count"`
						Mean  float64 `json:"mean"`
					} `json:"fields"`
				} `json:"stats"`
			} `json:"aggregations"`
		}
		c.must(t, "POST", "/points/_search?size=0", obj{"aggs": obj{"stats": obj{"matrix_stats": obj{"fields": []string{"x", "y"}}}}}, &res)
		if f := res.Aggs.Stats.Fields; len(f) != 2 || f[0].Count != 2 {
			t.Fatalf("matrix_stats gave %+v, want 2 fields over 2 documents", f)
		}
	})

	t.Run("geo", func(t *testing.T) {
		c.must(t, "PUT", "/places", obj{"mappings": obj{"properties": obj{"at": obj{"type": "geo_point"}}}}, nil)
		c.must(t, "PUT", "/places/_doc/1?refresh=true", obj{"at": obj{"lat": 52.37, "lon": 4.89}}, nil)
		var res struct {
			Aggs struct {
				Grid struct {
					Buckets []struct {
						Key   string `json:"key"`
						Count int    `json:"doc_count"`
					} `json:"buckets"`
				} `json:"grid"`
			} `json:"aggregations"`
		}
		c.must(t, "POST", "/places/_search?size=0", obj{"aggs": obj{"grid": obj{"geohash_grid": obj{"field": "at", "precision": 3}}}}, &res)
		if b := res.Aggs.Grid.Buckets; len(b) != 1 || b[0].Key != "u17" {
			t.Fatalf("geohash_grid gave %+v, want one bucket u17 (Amsterdam)", b)
		}
	})

	t.Run("search-pipeline-common", func(t *testing.T) {
		c.must(t, "POST", "/_bulk?refresh=true", ndjson(
			obj{"index": obj{"_index": "shop", "_id": "1"}}, obj{"visible": true},
			obj{"index": obj{"_index": "shop", "_id": "2"}}, obj{"visible": false},
		), nil)
		c.must(t, "PUT", "/_search/pipeline/only-visible", obj{"request_processors": []obj{
			{"filter_query": obj{"query": obj{"term": obj{"visible": true}}}},
		}}, nil)
		var res searchResult
		c.must(t, "POST", "/shop/_search?search_pipeline=only-visible", obj{"query": obj{"match_all": obj{}}}, &res)
		if len(res.Hits.Hits) != 1 || res.Hits.Hits[0].ID != "1" {
			t.Fatalf("the filter_query search pipeline let through %+v, want document 1", res.Hits.Hits)
		}
	})

	t.Run("repository-url", func(t *testing.T) {
		c.must(t, "PUT", "/_snapshot/fs", obj{"type": "fs", "settings": obj{"location": repo}}, nil)
		c.must(t, "PUT", "/_snapshot/fs/snap-1?wait_for_completion=true", obj{"indices": "logs,counters", "include_global_state": false}, nil)
		c.must(t, "PUT", "/_snapshot/url", obj{"type": "url", "settings": obj{"url": "file:" + repo}}, nil)
		var res struct {
			Snapshots []struct {
				Name  string `json:"snapshot"`
				State string `json:"state"`
			} `json:"snapshots"`
		}
		c.must(t, "GET", "/_snapshot/url/_all", nil, &res)
		if len(res.Snapshots) != 1 || res.Snapshots[0].Name != "snap-1" || res.Snapshots[0].State != "SUCCESS" {
			t.Fatalf("the url repository lists %+v, want snap-1 SUCCESS", res.Snapshots)
		}
	})

	// The job-scheduler runs ISM's job for ism-1, which initialises the index into the policy's
	// default state.
	t.Run("opensearch-job-scheduler", func(t *testing.T) {
		c.await(t, 3*time.Minute, "ISM's job to move ism-1 into state hot", func() (bool, string) {
			e := c.explain(t, "ism-1")
			return e.State.Name == "hot", e.raw
		})
	})
}

// await asks done every 2 seconds until it says yes, failing the test with what it last said
// when limit has passed.
func (c *rest) await(t *testing.T, limit time.Duration, what string, done func() (bool, string)) {
	t.Helper()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	deadline := time.After(limit)
	for {
		ok, last := done()
		if ok {
			return
		}
		select {
		case <-deadline:
			t.Fatalf("waited %s for %s; last answer: %s", limit, what, last)
		case <-tick.C:
		}
	}
}

// explained is what ISM's explain API says about one index.
type explained struct {
	PolicyID string `json:"index.plugins.index_state_management.policy_id"`
	State    struct {
		Name string `json:"name"`
	} `json:"state"`
	raw string
}

func (c *rest) explain(t *testing.T, index string) explained {
	t.Helper()
	var all map[string]json.RawMessage
	c.must(t, "GET", "/_plugins/_ism/explain/"+index, nil, &all)
	var e explained
	if err := json.Unmarshal(all[index], &e); err != nil {
		t.Fatalf("explain %s: %v (%s)", index, err, all[index])
	}
	e.raw = string(all[index])
	return e
}

type obj = map[string]any

type searchResult struct {
	Hits struct {
		Hits []struct {
			ID     string         `json:"_id"`
			Fields map[string]any `json:"fields"`
		} `json:"hits"`
	} `json:"hits"`
}

// rest sends JSON requests to a plain node.
type rest struct{ url string }

// must sends a request (body: a value to encode, or raw bytes) and decodes the answer into out;
// any status but 2xx fails the test with OpenSearch's answer, which names what is missing.
func (c *rest) must(t *testing.T, method, path string, body, out any) {
	t.Helper()
	var r io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		r, contentType = bytes.NewReader(b), "application/x-ndjson"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.url+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s: %s", method, path, resp.Status, data)
	}
	if bytes.Contains(data, []byte(`"errors":true`)) {
		t.Fatalf("%s %s: some items failed: %s", method, path, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
}

func (c *rest) source(t *testing.T, index, id string) map[string]any {
	t.Helper()
	var doc struct {
		Source map[string]any `json:"_source"`
	}
	c.must(t, "GET", "/"+index+"/_doc/"+id, nil, &doc)
	return doc.Source
}

func (c *rest) count(t *testing.T, index string, query obj) int {
	t.Helper()
	var res struct {
		Count int `json:"count"`
	}
	c.must(t, "POST", "/"+index+"/_count", obj{"query": query}, &res)
	return res.Count
}

func ndjson(lines ...obj) []byte {
	var b strings.Builder
	for _, l := range lines {
		data, _ := json.Marshal(l)
		b.Write(data)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// absent lists the names of want that have is missing.
func absent(want, have []string) []string {
	var missing []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			missing = append(missing, w)
		}
	}
	return missing
}
