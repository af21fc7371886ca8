package opensearch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Ingest pipelines, search pipelines and stored scripts (search templates are stored scripts in
// the mustache language) live in the cluster state, like templates, and the CCR plugin does not
// copy them either. ClusterMetadata lists them; these calls change them. Bodies are raw JSON in
// the cluster state's rendering, which for all three is what PUT accepts (a stored script's is
// the {"lang", "source", "options"} object PUT takes under "script").

// PutIngestPipeline creates or replaces an ingest pipeline.
func (c *Client) PutIngestPipeline(ctx context.Context, id string, body json.RawMessage) error {
	return c.putConfig(ctx, "ingest pipeline", "/_ingest/pipeline", id, body)
}

// DeleteIngestPipeline deletes an ingest pipeline; a missing one gives ErrNotFound.
func (c *Client) DeleteIngestPipeline(ctx context.Context, id string) error {
	return c.deleteConfig(ctx, "ingest pipeline", "/_ingest/pipeline", id)
}

// PutSearchPipeline creates or replaces a search pipeline.
func (c *Client) PutSearchPipeline(ctx context.Context, id string, body json.RawMessage) error {
	return c.putConfig(ctx, "search pipeline", "/_search/pipeline", id, body)
}

// DeleteSearchPipeline deletes a search pipeline; a missing one gives ErrNotFound.
func (c *Client) DeleteSearchPipeline(ctx context.Context, id string) error {
	return c.deleteConfig(ctx, "search pipeline", "/_search/pipeline", id)
}

// PutStoredScript creates or replaces a stored script (or search template) from its cluster
// state rendering: {"lang": ..., "source": ..., "options": {...}}.
func (c *Client) PutStoredScript(ctx context.Context, id string, script json.RawMessage) error {
	if len(script) == 0 || !json.Valid(script) {
		return requestError(fmt.Sprintf("put stored script %q", id), "script is not valid JSON")
	}
	body, err := json.Marshal(map[string]json.RawMessage{"script": script})
	if err != nil {
		return requestError(fmt.Sprintf("put stored script %q", id), err.Error())
	}
	return c.putConfig(ctx, "stored script", "/_scripts", id, body)
}

// DeleteStoredScript deletes a stored script; a missing one gives ErrNotFound.
func (c *Client) DeleteStoredScript(ctx context.Context, id string) error {
	return c.deleteConfig(ctx, "stored script", "/_scripts", id)
}

func (c *Client) putConfig(ctx context.Context, kind, path, name string, body json.RawMessage) error {
	op := fmt.Sprintf("put %s %q", kind, name)
	if err := checkName(op, kind, name); err != nil {
		return err
	}
	if len(body) == 0 || !json.Valid(body) {
		return requestError(op, kind+" body is not valid JSON")
	}
	return c.do(ctx, request{op: op, method: http.MethodPut, path: path + escape(name), body: body}, nil)
}

func (c *Client) deleteConfig(ctx context.Context, kind, path, name string) error {
	op := fmt.Sprintf("delete %s %q", kind, name)
	if err := checkName(op, kind, name); err != nil {
		return err
	}
	return c.do(ctx, request{op: op, method: http.MethodDelete, path: path + escape(name)}, nil)
}

// pipelineList is the cluster state's rendering of ingest and search pipelines.
type pipelineList struct {
	Pipelines []struct {
		ID     string          `json:"id"`
		Config json.RawMessage `json:"config"`
	} `json:"pipeline"`
}

func (l pipelineList) byID() map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(l.Pipelines))
	for _, p := range l.Pipelines {
		out[p.ID] = p.Config
	}
	return out
}
