package opensearch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Waiting for a metadata change. OpenSearch can hold a cluster state request until the cluster
// metadata reaches a version (wait_for_metadata_version): it answers within milliseconds of the
// change, and costs the node nothing while it waits. Two facts of the node (2.19.4 and 2.19.6)
// shape these calls, whatever the docs say:
//
//   - the REST answer never shows the metadata version itself: MetadataVersion finds it by
//     asking whether it has reached a version, with no wait, galloping then bisecting;
//   - a wait that times out is not answered `wait_for_timed_out: true` but with a 500
//     (null_pointer_exception, the node renders a response without a state): both mean "not
//     reached yet".

// MetadataVersionReached reports, at once, whether the cluster metadata's version is at least
// version: a tiny call (the cluster state's own version and UUID).
func (c *Client) MetadataVersionReached(ctx context.Context, version int64) (bool, error) {
	q := url.Values{"wait_for_metadata_version": {fmt.Sprint(version)}, "wait_for_timeout": {"0s"}}
	var res struct {
		TimedOut bool `json:"wait_for_timed_out"`
	}
	err := c.do(ctx, request{op: "check the metadata version", method: http.MethodGet, path: "/_cluster/state/version", query: q}, &res)
	if waitTimedOut(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !res.TimedOut, nil
}

// MetadataVersion finds the cluster metadata's current version from a guess (the last one
// known, or 0): about 2*log2 of the distance small calls.
func (c *Client) MetadataVersion(ctx context.Context, guess int64) (int64, error) {
	reached := func(v int64) (bool, error) { return c.MetadataVersionReached(ctx, v) }
	lo := max(guess, 0) // reached (0 always is)
	if lo > 0 {
		ok, err := reached(lo)
		if err != nil {
			return 0, err
		}
		if !ok {
			lo = 0 // the cluster went back (a new cluster on the same address)
		}
	}
	// Gallop: hi is the first version not reached.
	step := int64(1)
	hi := lo + step
	for {
		ok, err := reached(hi)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		lo, step = hi, step*2
		hi = lo + step
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		ok, err := reached(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// WaitForMetadata waits, at most timeout, until the cluster metadata's version is at least
// version, and then answers what ClusterMetadata answers (reached true; the persistent
// settings are read then, so a wait that times out costs one request). A wait that times
// out answers reached false. The client's own timeout must exceed timeout.
func (c *Client) WaitForMetadata(ctx context.Context, version int64, timeout time.Duration) (ClusterMetadata, bool, error) {
	q := url.Values{
		"filter_path":               {metadataFilter + ",wait_for_timed_out"},
		"wait_for_metadata_version": {fmt.Sprint(version)},
		"wait_for_timeout":          {fmt.Sprintf("%dms", timeout.Milliseconds())},
	}
	var res metadataResponse
	err := c.do(ctx, request{op: "wait for a metadata change", method: http.MethodGet, path: "/_cluster/state/metadata", query: q}, &res)
	if waitTimedOut(err) {
		return ClusterMetadata{}, false, nil
	}
	if err != nil {
		return ClusterMetadata{}, false, err
	}
	if res.TimedOut {
		return ClusterMetadata{}, false, nil
	}
	m, err := c.withSettings(ctx, res.metadata())
	if err != nil {
		return ClusterMetadata{}, false, err
	}
	return m, true, nil
}

// waitTimedOut recognises the node's answer to a wait that timed out (see above).
func waitTimedOut(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusInternalServerError && strings.Contains(e.Type, "null_pointer_exception")
}

// IndexCheckpoints are an index's sequence numbers summed over its primary shards: two copies
// of an index with as many shards compare, sum for sum. An empty shard counts -1.
type IndexCheckpoints struct {
	GlobalCheckpoint int64 `json:"global_checkpoint"`
	LocalCheckpoint  int64 `json:"local_checkpoint"`
	MaxSeqNo         int64 `json:"max_seq_no"`
}

// Checkpoints reads the checkpoints of every open index in one call (the shard statistics
// filtered to the primaries' sequence numbers).
func (c *Client) Checkpoints(ctx context.Context) (map[string]IndexCheckpoints, error) {
	shards, err := c.ShardCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]IndexCheckpoints, len(shards))
	for name, byShard := range shards {
		var sum IndexCheckpoints
		for _, cp := range byShard {
			sum.GlobalCheckpoint += cp.GlobalCheckpoint
			sum.LocalCheckpoint += cp.LocalCheckpoint
			sum.MaxSeqNo += cp.MaxSeqNo
		}
		out[name] = sum
	}
	return out, nil
}

// ShardCheckpoints reads where every primary shard of every open index stands, by index and
// shard number, in one call: what tells, shard by shard, whether a follower index has every
// operation its leader index had at some moment (sums over shards cannot).
func (c *Client) ShardCheckpoints(ctx context.Context) (map[string]map[int]ShardSeqNo, error) {
	var res shardStats
	q := url.Values{"level": {"shards"}, "filter_path": {"indices.*.shards.*.routing.primary,indices.*.shards.*.seq_no"}}
	if err := c.do(ctx, request{op: "read checkpoints", method: http.MethodGet, path: "/_stats/docs", query: q}, &res); err != nil {
		return nil, err
	}
	out := make(map[string]map[int]ShardSeqNo, len(res.Indices))
	for name, ix := range res.Indices {
		byShard := make(map[int]ShardSeqNo, len(ix.Shards))
		for shard, copies := range ix.Shards {
			n, err := strconv.Atoi(shard)
			if err != nil {
				return nil, fmt.Errorf("read checkpoints of %q: unexpected shard %q", name, shard)
			}
			for _, cp := range copies {
				if cp.Routing.Primary {
					byShard[n] = cp.SeqNo
				}
			}
		}
		out[name] = byShard
	}
	return out, nil
}

// metadataResponse is the filtered answer of /_cluster/state/metadata ClusterMetadata reads.
type metadataResponse struct {
	TimedOut bool `json:"wait_for_timed_out"`
	Metadata struct {
		Indices map[string]struct {
			State    string `json:"state"`
			Settings struct {
				Index struct {
					UUID   string `json:"uuid"`
					Hidden string `json:"hidden"`
				} `json:"index"`
			} `json:"settings"`
			MappingVersion  int64 `json:"mapping_version"`
			SettingsVersion int64 `json:"settings_version"`
			AliasesVersion  int64 `json:"aliases_version"`
		} `json:"indices"`
		IndexTemplate struct {
			Templates map[string]json.RawMessage `json:"index_template"`
		} `json:"index_template"`
		ComponentTemplate struct {
			Templates map[string]json.RawMessage `json:"component_template"`
		} `json:"component_template"`
		Ingest         pipelineList               `json:"ingest"`
		SearchPipeline pipelineList               `json:"search_pipeline"`
		StoredScripts  map[string]json.RawMessage `json:"stored_scripts"`
	} `json:"metadata"`
}
