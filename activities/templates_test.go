package activities

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
)

// TestSyncTemplates reconciles templates between two real clusters.
func TestSyncTemplates(t *testing.T) {
	d := testcluster.Distribution(t)
	base := testcluster.Dir(t)
	ln, fn := testcluster.Start(t, d, base, "tpl-leader"), testcluster.Start(t, d, base, "tpl-follower")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
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
	in := SyncTemplatesInput{Leader: ClusterRef{Name: "tpl-leader", URL: ln.HTTPURL()}, Follower: ClusterRef{Name: "tpl-follower", URL: fn.HTTPURL()}}
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(leader.PutComponentTemplate(ctx, "shared-settings", raw(`{"template":{"settings":{"number_of_replicas":0}}}`)))
	must(leader.PutIndexTemplate(ctx, "logs", raw(`{"index_patterns":["logs-*"],"composed_of":["shared-settings"],"priority":5}`)))
	must(leader.PutIndexTemplate(ctx, ".system-thing", raw(`{"index_patterns":[".system-thing*"],"priority":1}`)))
	must(follower.PutIndexTemplate(ctx, "follower-own", raw(`{"index_patterns":["own-*"],"priority":1}`)))

	steps := []struct {
		name        string
		change      func()
		wantPut     []string
		wantDeleted []string
	}{
		{"first sync", func() {}, []string{"component/shared-settings", "index/logs"}, nil},
		{"nothing changed", func() {}, nil, nil},
		{"index template changed", func() {
			must(leader.PutIndexTemplate(ctx, "logs", raw(`{"index_patterns":["logs-*","app-*"],"composed_of":["shared-settings"],"priority":5}`)))
		}, []string{"index/logs"}, nil},
		{"templates deleted on the leader", func() {
			must(leader.DeleteIndexTemplate(ctx, "logs"))
			must(leader.DeleteComponentTemplate(ctx, "shared-settings"))
		}, nil, []string{"index/logs", "component/shared-settings"}},
	}
	for _, step := range steps {
		step.change()
		got, err := a.SyncTemplates(ctx, in)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if !slices.Equal(got.Put, step.wantPut) || !slices.Equal(got.Deleted, step.wantDeleted) {
			t.Fatalf("%s: put %v deleted %v, want put %v deleted %v", step.name, got.Put, got.Deleted, step.wantPut, step.wantDeleted)
		}
		in.Managed = got.Managed
		if step.name == "index template changed" {
			body, err := follower.GetIndexTemplate(ctx, "logs")
			if err != nil {
				t.Fatal(err)
			}
			var tpl struct {
				IndexPatterns []string `json:"index_patterns"`
			}
			if json.Unmarshal(body, &tpl) != nil || !slices.Equal(tpl.IndexPatterns, []string{"logs-*", "app-*"}) {
				t.Errorf("follower's logs template %s, want the leader's new patterns", body)
			}
		}
	}
	if _, err := follower.GetIndexTemplate(ctx, ".system-thing"); !errors.Is(err, opensearch.ErrNotFound) {
		t.Errorf("the leader's dot-prefixed template reached the follower: %v", err)
	}
	if _, err := follower.GetIndexTemplate(ctx, "follower-own"); err != nil {
		t.Errorf("the follower's own template was touched: %v", err)
	}
}
