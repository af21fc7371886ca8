package opensearch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Templates are not replicated by the CCR plugin, so osccr copies them: bodies are raw JSON as
// OpenSearch returns them, which PUT accepts back unchanged.

// ListIndexTemplates returns every composable index template (_index_template) by name.
func (c *Client) ListIndexTemplates(ctx context.Context) (map[string]json.RawMessage, error) {
	return c.listTemplates(ctx, "list index templates", "/_index_template", "index_templates", "index_template")
}

// GetIndexTemplate returns one composable index template; a missing one gives ErrNotFound.
func (c *Client) GetIndexTemplate(ctx context.Context, name string) (json.RawMessage, error) {
	return c.getTemplate(ctx, "index template", "/_index_template", "index_templates", "index_template", name)
}

// PutIndexTemplate creates or replaces a composable index template.
func (c *Client) PutIndexTemplate(ctx context.Context, name string, body json.RawMessage) error {
	return c.putTemplate(ctx, "index template", "/_index_template", name, body)
}

// DeleteIndexTemplate deletes a composable index template; a missing one gives ErrNotFound.
func (c *Client) DeleteIndexTemplate(ctx context.Context, name string) error {
	return c.deleteTemplate(ctx, "index template", "/_index_template", name)
}

// ListComponentTemplates returns every component template by name.
func (c *Client) ListComponentTemplates(ctx context.Context) (map[string]json.RawMessage, error) {
	return c.listTemplates(ctx, "list component templates", "/_component_template", "component_templates", "component_template")
}

// GetComponentTemplate returns one component template; a missing one gives ErrNotFound.
func (c *Client) GetComponentTemplate(ctx context.Context, name string) (json.RawMessage, error) {
	return c.getTemplate(ctx, "component template", "/_component_template", "component_templates", "component_template", name)
}

// PutComponentTemplate creates or replaces a component template.
func (c *Client) PutComponentTemplate(ctx context.Context, name string, body json.RawMessage) error {
	return c.putTemplate(ctx, "component template", "/_component_template", name, body)
}

// DeleteComponentTemplate deletes a component template; a missing one gives ErrNotFound, one
// still used by an index template ErrBadRequest.
func (c *Client) DeleteComponentTemplate(ctx context.Context, name string) error {
	return c.deleteTemplate(ctx, "component template", "/_component_template", name)
}

// decodeTemplates reads {"<listKey>": [{"name": ..., "<bodyKey>": {...}}]}.
func decodeTemplates(raw json.RawMessage, listKey, bodyKey string) (map[string]json.RawMessage, error) {
	var res map[string][]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	for _, entry := range res[listKey] {
		var name string
		if err := json.Unmarshal(entry["name"], &name); err != nil {
			return nil, fmt.Errorf("template name: %w", err)
		}
		out[name] = entry[bodyKey]
	}
	return out, nil
}

func (c *Client) listTemplates(ctx context.Context, op, path, listKey, bodyKey string) (map[string]json.RawMessage, error) {
	var raw json.RawMessage
	if err := c.do(ctx, request{op: op, method: http.MethodGet, path: path}, &raw); err != nil {
		return nil, err
	}
	out, err := decodeTemplates(raw, listKey, bodyKey)
	if err != nil {
		return nil, decodeError(op, http.StatusOK, err, raw)
	}
	return out, nil
}

func (c *Client) getTemplate(ctx context.Context, kind, path, listKey, bodyKey, name string) (json.RawMessage, error) {
	op := fmt.Sprintf("get %s %q", kind, name)
	if err := checkName(op, kind, name); err != nil {
		return nil, err
	}
	var raw json.RawMessage
	if err := c.do(ctx, request{op: op, method: http.MethodGet, path: path + escape(name)}, &raw); err != nil {
		return nil, err
	}
	all, err := decodeTemplates(raw, listKey, bodyKey)
	if err != nil {
		return nil, decodeError(op, http.StatusOK, err, raw)
	}
	body, ok := all[name]
	if !ok {
		return nil, &Error{Op: op, Status: http.StatusNotFound, Reason: kind + " not found", kind: ErrNotFound}
	}
	return body, nil
}

func (c *Client) putTemplate(ctx context.Context, kind, path, name string, body json.RawMessage) error {
	op := fmt.Sprintf("put %s %q", kind, name)
	if err := checkName(op, kind, name); err != nil {
		return err
	}
	if len(body) == 0 || !json.Valid(body) {
		return requestError(op, "template body is not valid JSON")
	}
	return c.do(ctx, request{op: op, method: http.MethodPut, path: path + escape(name), body: body}, nil)
}

func (c *Client) deleteTemplate(ctx context.Context, kind, path, name string) error {
	op := fmt.Sprintf("delete %s %q", kind, name)
	if err := checkName(op, kind, name); err != nil {
		return err
	}
	return c.do(ctx, request{op: op, method: http.MethodDelete, path: path + escape(name)}, nil)
}
