package activities

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/lag"
	"github.com/osccr/osccr/internal/opensearch"
)

func TestLeaderView(t *testing.T) {
	m := opensearch.ClusterMetadata{
		Indexes: []opensearch.IndexMetadata{
			{Name: ".kibana_1", UUID: "k", State: "open"},
			{Name: "archive", UUID: "a", State: "close"},
			{Name: "audit", UUID: "h", State: "open", Hidden: true},
			{Name: "orders", UUID: "o", State: "open"},
		},
		IndexTemplates: map[string]json.RawMessage{"logs": json.RawMessage(`{"index_patterns":["logs-*"]}`)},
	}
	v := leaderView(m, "")
	if len(v.Indexes) != 4 || v.Indexes["archive"] != "a" {
		t.Errorf("indexes %v, want all four with their UUIDs (a closed one is not deleted)", v.Indexes)
	}
	if len(v.Replicate) != 1 || v.Replicate[0] != "orders" || len(v.Excluded) != 3 || v.Excluded[0].Index != ".kibana_1" {
		t.Errorf("replicate %v excluded %v, want orders, and the other three excluded as ListLeaderIndexes does", v.Replicate, v.Excluded)
	}
	if v.Templates == "" {
		t.Error("no templates fingerprint")
	}
}

func TestTemplatesFingerprint(t *testing.T) {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	base := opensearch.ClusterMetadata{
		IndexTemplates:     map[string]json.RawMessage{"logs": raw(`{"index_patterns":["logs-*"],"priority":1}`)},
		ComponentTemplates: map[string]json.RawMessage{"shared": raw(`{"template":{"settings":{"index":{"number_of_replicas":"0"}}}}`)},
	}
	fp := templatesFingerprint(base)
	tests := []struct {
		name string
		m    opensearch.ClusterMetadata
		same bool
	}{
		{"same templates, other key order", opensearch.ClusterMetadata{
			IndexTemplates:     map[string]json.RawMessage{"logs": raw(`{"priority":1, "index_patterns":["logs-*"]}`)},
			ComponentTemplates: base.ComponentTemplates}, true},
		{"a dot-prefixed template added", opensearch.ClusterMetadata{
			IndexTemplates:     map[string]json.RawMessage{"logs": base.IndexTemplates["logs"], ".system": raw(`{}`)},
			ComponentTemplates: base.ComponentTemplates}, true},
		{"index template changed", opensearch.ClusterMetadata{
			IndexTemplates:     map[string]json.RawMessage{"logs": raw(`{"index_patterns":["logs-*"],"priority":2}`)},
			ComponentTemplates: base.ComponentTemplates}, false},
		{"component template deleted", opensearch.ClusterMetadata{IndexTemplates: base.IndexTemplates}, false},
		{"a template of the same body under the other kind", opensearch.ClusterMetadata{
			IndexTemplates:     map[string]json.RawMessage{"logs": base.IndexTemplates["logs"], "shared": base.ComponentTemplates["shared"]},
			ComponentTemplates: map[string]json.RawMessage{}}, false},
		{"an ingest pipeline added", opensearch.ClusterMetadata{
			IndexTemplates: base.IndexTemplates, ComponentTemplates: base.ComponentTemplates,
			IngestPipelines: map[string]json.RawMessage{"stamp": raw(`{"processors":[]}`)}}, false},
		{"a search pipeline added", opensearch.ClusterMetadata{
			IndexTemplates: base.IndexTemplates, ComponentTemplates: base.ComponentTemplates,
			SearchPipelines: map[string]json.RawMessage{"stamp": raw(`{"processors":[]}`)}}, false},
		{"a stored script added", opensearch.ClusterMetadata{
			IndexTemplates: base.IndexTemplates, ComponentTemplates: base.ComponentTemplates,
			StoredScripts: map[string]json.RawMessage{"bump": raw(`{"lang":"painless","source":"1"}`)}}, false},
		{"a copied cluster setting set", opensearch.ClusterMetadata{
			IndexTemplates: base.IndexTemplates, ComponentTemplates: base.ComponentTemplates,
			PersistentSettings: map[string]json.RawMessage{"search.max_buckets": raw(`"20000"`)}}, false},
		{"a cluster setting of the cluster's own set", opensearch.ClusterMetadata{
			IndexTemplates: base.IndexTemplates, ComponentTemplates: base.ComponentTemplates,
			PersistentSettings: map[string]json.RawMessage{"cluster.remote.leader.seeds": raw(`["127.0.0.1:9300"]`)}}, true},
		{"a dot-prefixed pipeline added", opensearch.ClusterMetadata{
			IndexTemplates: base.IndexTemplates, ComponentTemplates: base.ComponentTemplates,
			IngestPipelines: map[string]json.RawMessage{".plugin": raw(`{"processors":[]}`)}}, true},
	}
	for _, tt := range tests {
		if got := templatesFingerprint(tt.m) == fp; got != tt.same {
			t.Errorf("%s: same fingerprint %v, want %v", tt.name, got, tt.same)
		}
	}
}

func TestObservationDiffers(t *testing.T) {
	base := func() contract.Observation {
		return contract.Observation{
			Leader:   &contract.LeaderView{Indexes: map[string]string{"a": "1"}, Replicate: []string{"a"}, Excluded: []contract.Exclusion{}, Templates: "t"},
			Follower: contract.ClusterHealth{Status: "green"},
		}
	}
	tests := []struct {
		name   string
		change func(*contract.Observation)
		want   bool
	}{
		{"nothing", func(*contract.Observation) {}, false},
		{"green to yellow", func(o *contract.Observation) {
			o.Follower = contract.ClusterHealth{Status: "yellow", Reason: "replicas"}
		}, false},
		{"an empty list decoded as nil", func(o *contract.Observation) { o.Leader.Excluded = nil }, false},
		{"new index", func(o *contract.Observation) { o.Leader.Indexes["b"] = "2"; o.Leader.Replicate = []string{"a", "b"} }, true},
		{"recreated index", func(o *contract.Observation) { o.Leader.Indexes["a"] = "3" }, true},
		{"templates", func(o *contract.Observation) { o.Leader.Templates = "u" }, true},
		{"follower red", func(o *contract.Observation) { o.Follower.Status = "red" }, true},
		{"follower unreachable", func(o *contract.Observation) { o.Follower.Status = "unreachable" }, true},
		{"leader stopped answering", func(o *contract.Observation) { o.LeaderError = "connection refused" }, true},
		{"index paused by the plugin", func(o *contract.Observation) {
			o.Halted = map[string]contract.IndexStatus{"a": {Status: "PAUSED", Reason: "AutoPaused"}}
		}, true},
	}
	for _, tt := range tests {
		known := base()
		o := base()
		tt.change(&o)
		if got := differs(o, &known); got != tt.want {
			t.Errorf("%s: differs = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !differs(base(), nil) {
		t.Error("the first observation must be returned at once")
	}
}

// checkpointsOnly answers ShardCheckpoints (one primary shard per index); any other call
// would panic (the embedded nil interface).
type checkpointsOnly struct {
	Cluster
	cps map[string]opensearch.IndexCheckpoints
}

func (c checkpointsOnly) ShardCheckpoints(context.Context) (map[string]map[int]opensearch.ShardSeqNo, error) {
	out := map[string]map[int]opensearch.ShardSeqNo{}
	for name, cp := range c.cps {
		out[name] = map[int]opensearch.ShardSeqNo{0: {GlobalCheckpoint: cp.GlobalCheckpoint, LocalCheckpoint: cp.LocalCheckpoint, MaxSeqNo: cp.MaxSeqNo}}
	}
	return out, nil
}

// TestSampleFollowsTheLeaderView: the lag covers every index the leader replicates, also when
// the watch was started before the caller knew of any (Followed empty), and never the
// dot-prefixed indexes both clusters have under the same name; the heartbeat carries each
// index's checkpoints and the plugin's state.
func TestSampleFollowsTheLeaderView(t *testing.T) {
	tr := lag.New()
	w := &watcher{
		leader:   checkpointsOnly{cps: map[string]opensearch.IndexCheckpoints{"orders": {GlobalCheckpoint: 199}, "logs": {GlobalCheckpoint: 50}, ".kibana_1": {GlobalCheckpoint: 9}}},
		follower: checkpointsOnly{cps: map[string]opensearch.IndexCheckpoints{"orders": {LocalCheckpoint: 199}, "logs": {LocalCheckpoint: 40}, ".kibana_1": {LocalCheckpoint: 0}}},
		in:       contract.WatchInput{Leader: contract.ClusterRef{Name: "src"}, Follower: contract.ClusterRef{Name: "dst"}},
		lag:      tr,
		view:     &contract.LeaderView{Replicate: []string{"logs", "orders"}},
		states:   map[string]opensearch.Status{"orders": opensearch.StatusRunning, "logs": opensearch.StatusPaused, ".kibana_1": opensearch.StatusRunning},
	}
	before := time.Now()
	w.sample(context.Background(), time.Now())
	got, ok := tr.Lag("dst", time.Now())
	if !ok {
		t.Fatal("no lag after a sample")
	}
	if len(got.Indexes) != 2 || got.Indexes["orders"].Seconds != 0 || got.Indexes["orders"].Operations != 0 || got.Indexes["logs"].Operations != 10 {
		t.Errorf("lag %+v, want orders caught up and logs 10 operations behind, .kibana_1 left out", got.Indexes)
	}
	obs := contract.Observation{Follower: contract.ClusterHealth{Status: "green"},
		Halted: map[string]contract.IndexStatus{"logs": {Index: "logs", Status: "PAUSED", Reason: "AutoPaused: closed"}}}
	hb := w.heartbeat(obs, 3, time.Now())
	want := map[string]contract.IndexSample{
		"orders": {State: "RUNNING", LeaderCheckpoint: 199, FollowerCheckpoint: 199, HasFollower: true},
		"logs":   {State: "PAUSED", Reason: "AutoPaused: closed", LeaderCheckpoint: 50, FollowerCheckpoint: 40, HasFollower: true},
	}
	if hb.Version != contract.WatchSampleVersion || hb.Polls != 3 || hb.SampledAt.Before(before) || hb.LeaderUnreachable || hb.Lag == nil || !maps.Equal(hb.Indexes, want) {
		t.Errorf("heartbeat %+v, want version %d, sampled now, orders and logs %+v (.kibana_1 left out)", hb, contract.WatchSampleVersion, want)
	}
}

// failingLeader fails every call to the leader, as one that is gone.
type failingLeader struct{ Cluster }

func (failingLeader) ShardCheckpoints(context.Context) (map[string]map[int]opensearch.ShardSeqNo, error) {
	return nil, errors.New("connection refused")
}

// TestSampleLeaderGone: once the leader stops answering, an index's leader checkpoint is the
// last the leader answered (so the operations behind are "at least"), the follower's is read
// afresh, and the sample says the leader is unreachable and when it was last seen.
func TestSampleLeaderGone(t *testing.T) {
	tr := lag.New()
	w := &watcher{
		leader:   checkpointsOnly{cps: map[string]opensearch.IndexCheckpoints{"orders": {GlobalCheckpoint: 300}}},
		follower: checkpointsOnly{cps: map[string]opensearch.IndexCheckpoints{"orders": {LocalCheckpoint: 250}}},
		in:       contract.WatchInput{Leader: contract.ClusterRef{Name: "src"}, Follower: contract.ClusterRef{Name: "dst"}, Followed: []string{"orders"}},
		lag:      tr,
	}
	seen := time.Now()
	w.sample(context.Background(), seen)
	w.leader = failingLeader{}
	w.follower = checkpointsOnly{cps: map[string]opensearch.IndexCheckpoints{"orders": {LocalCheckpoint: 260}}}
	w.sample(context.Background(), seen.Add(time.Second))
	hb := w.heartbeat(contract.Observation{}, 1, time.Now())
	ix := hb.Indexes["orders"]
	if !hb.LeaderUnreachable || !hb.LeaderSeenAt.Equal(seen) || ix.LeaderCheckpoint != 300 || ix.FollowerCheckpoint != 260 {
		t.Errorf("heartbeat with the leader gone: %+v, want unreachable, last seen %s, orders 300 vs 260", hb, seen)
	}
}

// TestCompareShards: a follower shard ahead of the leader's sampled checkpoint does not hide
// one behind; a missing shard holds nothing (-1).
func TestCompareShards(t *testing.T) {
	goal := map[int]opensearch.ShardSeqNo{0: {GlobalCheckpoint: 10}, 1: {GlobalCheckpoint: 20}, 2: {GlobalCheckpoint: 5}}
	have := map[int]opensearch.ShardSeqNo{0: {LocalCheckpoint: 12}, 1: {LocalCheckpoint: 15}}
	if l, f := compareShards(goal, have); l != 35 || f != 10+15-1 {
		t.Errorf("compareShards = %d, %d; want 35, 24", l, f)
	}
}
