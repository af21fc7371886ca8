package opensearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
)

// bulkChunk is how many documents one bulk request carries.
const bulkChunk = 5000

// scrollPage is how many ids one scroll page returns.
const scrollPage = 5000

// WriteOption tunes a document write.
type WriteOption func(*writeOptions)

type writeOptions struct {
	refresh bool
}

// WithRefresh makes written documents visible to search before the call returns.
func WithRefresh() WriteOption { return func(o *writeOptions) { o.refresh = true } }

func (o writeOptions) query() url.Values {
	q := url.Values{}
	if o.refresh {
		q.Set("refresh", "true")
	}
	return q
}

func applyWriteOptions(opts []WriteOption) writeOptions {
	var o writeOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// ListIndices lists every index, hidden and dot-prefixed ones included (callers decide what to
// exclude), ordered by name.
func (c *Client) ListIndices(ctx context.Context) ([]IndexSummary, error) {
	const op = "list indices"
	var rows []struct {
		Index     string  `json:"index"`
		UUID      string  `json:"uuid"`
		Health    *string `json:"health"`
		Status    string  `json:"status"`
		DocsCount *string `json:"docs.count"`
		StoreSize *string `json:"store.size"`
		Pri       *string `json:"pri"`
		Rep       *string `json:"rep"`
	}
	q := url.Values{
		"format":           {"json"},
		"bytes":            {"b"},
		"expand_wildcards": {"all"},
		"h":                {"index,uuid,health,status,docs.count,store.size,pri,rep"},
	}
	if err := c.do(ctx, request{op: op, method: http.MethodGet, path: "/_cat/indices", query: q}, &rows); err != nil {
		return nil, err
	}
	// _cat/indices has no hidden column: index.hidden is read from the settings of all indexes.
	var hidden map[string]struct {
		Settings map[string]any `json:"settings"`
	}
	hq := url.Values{"expand_wildcards": {"all"}, "flat_settings": {"true"}}
	if err := c.do(ctx, request{op: op, method: http.MethodGet, path: "/_all/_settings/index.hidden", query: hq}, &hidden); err != nil {
		return nil, err
	}
	out := make([]IndexSummary, 0, len(rows))
	for _, r := range rows {
		s := IndexSummary{
			Name:       r.Index,
			UUID:       r.UUID,
			Status:     r.Status,
			DocsCount:  parseInt(r.DocsCount),
			StoreBytes: parseInt(r.StoreSize),
			Primaries:  int(parseInt(r.Pri)),
			Replicas:   int(parseInt(r.Rep)),
		}
		if r.Health != nil {
			s.Health = HealthStatus(*r.Health)
		}
		if h, ok := hidden[r.Index]; ok {
			s.Hidden = h.Settings["index.hidden"] == "true"
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func parseInt(s *string) int64 {
	if s == nil {
		return 0
	}
	n, _ := strconv.ParseInt(*s, 10, 64)
	return n
}

// GetIndex reads an index's mappings, settings and aliases. name may be an alias of one index;
// the definition is that index's.
func (c *Client) GetIndex(ctx context.Context, name string) (IndexDefinition, error) {
	op := fmt.Sprintf("get index %q", name)
	if err := checkName(op, "index", name); err != nil {
		return IndexDefinition{}, err
	}
	var res map[string]struct {
		Aliases  map[string]json.RawMessage `json:"aliases"`
		Mappings json.RawMessage            `json:"mappings"`
		Settings map[string]any             `json:"settings"`
	}
	q := url.Values{"flat_settings": {"true"}}
	if err := c.do(ctx, request{op: op, method: http.MethodGet, path: escape(name), query: q}, &res); err != nil {
		return IndexDefinition{}, err
	}
	if len(res) != 1 {
		return IndexDefinition{}, &Error{Op: op, Type: "ambiguous_name", Reason: fmt.Sprintf("%q names %d indexes, want exactly one", name, len(res)), kind: ErrBadRequest}
	}
	var d IndexDefinition
	for concrete, def := range res {
		d = IndexDefinition{Name: concrete, Aliases: def.Aliases, Mappings: def.Mappings, Settings: def.Settings}
	}
	return d, nil
}

// CreateIndex creates an index; body holds its settings, mappings and aliases and may be nil.
// An existing index gives ErrAlreadyExists.
func (c *Client) CreateIndex(ctx context.Context, name string, body any) error {
	op := fmt.Sprintf("create index %q", name)
	if err := checkName(op, "index", name); err != nil {
		return err
	}
	return c.do(ctx, request{op: op, method: http.MethodPut, path: escape(name), body: body}, nil)
}

// DeleteIndex deletes exactly one index (never a wildcard). A missing index gives ErrNotFound.
func (c *Client) DeleteIndex(ctx context.Context, name string) error {
	op := fmt.Sprintf("delete index %q", name)
	if err := checkName(op, "index", name); err != nil {
		return err
	}
	return c.do(ctx, request{op: op, method: http.MethodDelete, path: escape(name)}, nil)
}

// CloseIndex closes an index: it keeps its data but serves nothing until opened again. A
// leader index that is closed stops its followers (the plugin pauses them).
func (c *Client) CloseIndex(ctx context.Context, name string) error {
	op := fmt.Sprintf("close index %q", name)
	if err := checkName(op, "index", name); err != nil {
		return err
	}
	return c.do(ctx, request{op: op, method: http.MethodPost, path: escape(name, "_close")}, nil)
}

// Refresh makes everything written to an index so far visible to search.
func (c *Client) Refresh(ctx context.Context, index string) error {
	op := fmt.Sprintf("refresh index %q", index)
	if err := checkName(op, "index", index); err != nil {
		return err
	}
	return c.do(ctx, request{op: op, method: http.MethodPost, path: escape(index, "_refresh")}, nil)
}

// Count returns how many documents an index holds (as of its last refresh).
func (c *Client) Count(ctx context.Context, index string) (int64, error) {
	op := fmt.Sprintf("count documents of %q", index)
	if err := checkName(op, "index", index); err != nil {
		return 0, err
	}
	var res struct {
		Count int64 `json:"count"`
	}
	err := c.do(ctx, request{op: op, method: http.MethodGet, path: escape(index, "_count")}, &res)
	return res.Count, err
}

// IndexDocument writes (creates or replaces) one document.
func (c *Client) IndexDocument(ctx context.Context, index, id string, doc any, opts ...WriteOption) error {
	op := fmt.Sprintf("index document %q into %q", id, index)
	if err := checkName(op, "index", index); err != nil {
		return err
	}
	if id == "" {
		return requestError(op, "document id is empty")
	}
	q := applyWriteOptions(opts).query()
	return c.do(ctx, request{op: op, method: http.MethodPut, path: escape(index, "_doc", id), query: q, body: doc}, nil)
}

// Bulk writes (creates or replaces) documents in batches. When documents fail the error says how
// many and is classified by the first failure; the documents that succeeded stay written.
func (c *Client) Bulk(ctx context.Context, index string, docs []Doc, opts ...WriteOption) error {
	op := fmt.Sprintf("bulk write into %q", index)
	if err := checkName(op, "index", index); err != nil {
		return err
	}
	o := applyWriteOptions(opts)
	for start := 0; start < len(docs); start += bulkChunk {
		end := min(start+bulkChunk, len(docs))
		if err := c.bulkChunk(ctx, op, index, docs[start:end], o); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) bulkChunk(ctx context.Context, op, index string, docs []Doc, o writeOptions) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, d := range docs {
		if d.ID == "" {
			return requestError(op, "a document has an empty id")
		}
		if err := enc.Encode(map[string]any{"index": map[string]string{"_id": d.ID}}); err != nil {
			return requestError(op, err.Error())
		}
		src, err := encodeBody(d.Source)
		if err != nil {
			return requestError(op, fmt.Sprintf("document %q: %v", d.ID, err))
		}
		buf.Write(bytes.TrimSpace(src))
		buf.WriteByte('\n')
	}
	var res struct {
		Errors bool `json:"errors"`
		Items  []map[string]struct {
			ID     string      `json:"_id"`
			Status int         `json:"status"`
			Error  *errorCause `json:"error"`
		} `json:"items"`
	}
	r := request{op: op, method: http.MethodPost, path: escape(index, "_bulk"), query: o.query(), body: buf.Bytes(), ndjson: true}
	if err := c.do(ctx, r, &res); err != nil {
		return err
	}
	if !res.Errors {
		return nil
	}
	failed := 0
	var first *Error
	for _, item := range res.Items {
		for _, result := range item {
			if result.Error == nil {
				continue
			}
			failed++
			if first == nil {
				typ, reason := headline(*result.Error)
				first = &Error{Op: op, Status: result.Status, Type: typ,
					kind: classify(apiCore, result.Status, *result.Error)}
				first.Reason = fmt.Sprintf("document %q: %s", result.ID, reason)
			}
		}
	}
	if first == nil {
		return nil
	}
	first.Reason = fmt.Sprintf("%d of %d documents failed; first %s", failed, len(docs), first.Reason)
	return first
}

// DocumentIDs returns the ids of all documents in an index, sorted. It pages through the index
// with a scroll, so it is not limited to the 10,000 hits of one search.
func (c *Client) DocumentIDs(ctx context.Context, index string) ([]string, error) {
	op := fmt.Sprintf("list document ids of %q", index)
	if err := checkName(op, "index", index); err != nil {
		return nil, err
	}
	type page struct {
		ScrollID string `json:"_scroll_id"`
		Hits     struct {
			Hits []struct {
				ID string `json:"_id"`
			} `json:"hits"`
		} `json:"hits"`
	}
	var p page
	q := url.Values{"scroll": {"1m"}}
	body := map[string]any{"size": scrollPage, "_source": false, "sort": []string{"_doc"}}
	if err := c.do(ctx, request{op: op, method: http.MethodPost, path: escape(index, "_search"), query: q, body: body}, &p); err != nil {
		return nil, err
	}
	var ids []string
	scrollID := p.ScrollID
	defer func() {
		if scrollID != "" {
			// Best effort: an abandoned scroll expires after its keep-alive anyway.
			_ = c.do(context.WithoutCancel(ctx), request{op: op, method: http.MethodDelete, path: "/_search/scroll",
				body: map[string]any{"scroll_id": scrollID}}, nil)
		}
	}()
	for len(p.Hits.Hits) > 0 {
		for _, h := range p.Hits.Hits {
			ids = append(ids, h.ID)
		}
		next := page{}
		more := map[string]any{"scroll": "1m", "scroll_id": scrollID}
		if err := c.do(ctx, request{op: op, method: http.MethodPost, path: "/_search/scroll", body: more}, &next); err != nil {
			return nil, err
		}
		p = next
		if p.ScrollID != "" {
			scrollID = p.ScrollID
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// PutMapping adds fields to an index's mapping; mapping is {"properties": {...}}.
func (c *Client) PutMapping(ctx context.Context, index string, mapping any) error {
	op := fmt.Sprintf("put mapping of %q", index)
	if err := checkName(op, "index", index); err != nil {
		return err
	}
	return c.do(ctx, request{op: op, method: http.MethodPut, path: escape(index, "_mapping"), body: mapping}, nil)
}

// PutIndexSettings updates an index's dynamic settings, e.g. {"index.number_of_replicas": 0}.
func (c *Client) PutIndexSettings(ctx context.Context, index string, settings any) error {
	op := fmt.Sprintf("put settings of %q", index)
	if err := checkName(op, "index", index); err != nil {
		return err
	}
	return c.do(ctx, request{op: op, method: http.MethodPut, path: escape(index, "_settings"), body: settings}, nil)
}

// UpdateAliases applies alias actions atomically: all or none.
func (c *Client) UpdateAliases(ctx context.Context, actions ...AliasAction) error {
	const op = "update aliases"
	if len(actions) == 0 {
		return requestError(op, "no alias actions given")
	}
	for _, a := range actions {
		switch a.Op {
		case AliasAdd, AliasRemove:
			if err := checkName(op, "alias", a.Alias); err != nil {
				return err
			}
		case AliasRemoveIndex:
		default:
			return requestError(op, fmt.Sprintf("unknown alias action %q", a.Op))
		}
		if err := checkName(op, "index", a.Index); err != nil {
			return err
		}
	}
	body := map[string]any{"actions": actions}
	return c.do(ctx, request{op: op, method: http.MethodPost, path: "/_aliases", body: body}, nil)
}

// ShardSeqNo is where one primary shard of an index stands in its operation history.
type ShardSeqNo struct {
	MaxSeqNo         int64 `json:"max_seq_no"`
	LocalCheckpoint  int64 `json:"local_checkpoint"`
	GlobalCheckpoint int64 `json:"global_checkpoint"`
}

// shardStats is the part of an index statistics answer at the shards level that says where
// each copy of each shard stands.
type shardStats struct {
	Indices map[string]struct {
		Shards map[string][]struct {
			Routing struct {
				Primary bool `json:"primary"`
			} `json:"routing"`
			SeqNo ShardSeqNo `json:"seq_no"`
		} `json:"shards"`
	} `json:"indices"`
}

// PrimarySeqNos reads the sequence numbers of every primary shard of an index, by shard number.
// A follower index that has applied every operation of its leader index has, shard by shard, a
// local checkpoint at least the leader's global checkpoint.
func (c *Client) PrimarySeqNos(ctx context.Context, index string) (map[int]ShardSeqNo, error) {
	op := fmt.Sprintf("read shard sequence numbers of %q", index)
	if err := checkName(op, "index", index); err != nil {
		return nil, err
	}
	var res shardStats
	q := url.Values{"level": {"shards"}}
	if err := c.do(ctx, request{op: op, method: http.MethodGet, path: escape(index, "_stats", "docs"), query: q}, &res); err != nil {
		return nil, err
	}
	stats, ok := res.Indices[index]
	if !ok {
		return nil, fmt.Errorf("%s: %w: no statistics for the index", op, ErrNotFound)
	}
	out := map[int]ShardSeqNo{}
	for shard, copies := range stats.Shards {
		n, err := strconv.Atoi(shard)
		if err != nil {
			return nil, fmt.Errorf("%s: unexpected shard %q", op, shard)
		}
		for _, cp := range copies {
			if cp.Routing.Primary {
				out[n] = cp.SeqNo
			}
		}
	}
	return out, nil
}
