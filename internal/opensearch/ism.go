package opensearch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// Index State Management (ISM) keeps its policies in a system index, not in the cluster state:
// the metadata watch does not see them and ClusterMetadata does not list them. A policy with
// an ism_template is attached by ISM to every new index matching it, unless the index's
// index.plugins.index_state_management.auto_manage is false.

// ISMAutoManage is the index setting that keeps ISM from attaching policies to an index by
// their ism_template (it exists only where ISM is installed). ISM 2.19 reads its legacy name
// too, and wrongly: with ISMAutoManage false it falls back to ISMAutoManageLegacy, which is
// true unless set (fixed in a later ISM). So both are set, and both restored.
const (
	ISMAutoManage       = "index.plugins.index_state_management.auto_manage"
	ISMAutoManageLegacy = "index.opendistro.index_state_management.auto_manage"
)

// ismPolicyPage is how many policies one listing request asks for.
const ismPolicyPage = 100

// ListISMPolicies lists the cluster's ISM policies by ID, each as the body PUT takes
// ({"policy": {...}}) less what ISM writes itself (the ID, the schema version, the times of
// the last update): two clusters' copies of one policy compare equal. A cluster without ISM
// answers ErrNotFound.
func (c *Client) ListISMPolicies(ctx context.Context) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for from := 0; ; from += ismPolicyPage {
		var res struct {
			Policies []struct {
				ID     string         `json:"_id"`
				Policy map[string]any `json:"policy"`
			} `json:"policies"`
			Total int `json:"total_policies"`
		}
		q := url.Values{"from": {fmt.Sprint(from)}, "size": {fmt.Sprint(ismPolicyPage)}, "sortField": {"policy.policy_id.keyword"}, "sortOrder": {"asc"}}
		if err := c.do(ctx, request{op: "list ISM policies", method: http.MethodGet, path: "/_plugins/_ism/policies", query: q}, &res); err != nil {
			return nil, err
		}
		for _, p := range res.Policies {
			body, err := json.Marshal(map[string]any{"policy": ismPolicyBody(p.Policy)})
			if err != nil {
				return nil, fmt.Errorf("list ISM policies: policy %s: %w", p.ID, err)
			}
			out[p.ID] = body
		}
		if len(res.Policies) == 0 || from+len(res.Policies) >= res.Total {
			return out, nil
		}
	}
}

// ismPolicyBody drops from a policy what ISM writes itself or per cluster.
func ismPolicyBody(p map[string]any) map[string]any {
	for _, k := range []string{"policy_id", "last_updated_time", "schema_version", "user"} {
		delete(p, k)
	}
	if p["error_notification"] == nil {
		delete(p, "error_notification")
	}
	if templates, ok := p["ism_template"].([]any); ok {
		for _, t := range templates {
			if m, ok := t.(map[string]any); ok {
				delete(m, "last_updated_time")
			}
		}
	}
	return p
}

// PutISMPolicy creates an ISM policy or replaces it (ISM takes a replacement only with the
// sequence number of the policy it replaces: read first, then written with it; a write in
// between answers ErrConflict, and a retry reads again).
func (c *Client) PutISMPolicy(ctx context.Context, id string, body json.RawMessage) error {
	op := fmt.Sprintf("put ISM policy %q", id)
	if err := checkName(op, "ISM policy", id); err != nil {
		return err
	}
	if len(body) == 0 || !json.Valid(body) {
		return requestError(op, "ISM policy body is not valid JSON")
	}
	var current struct {
		SeqNo       *int64 `json:"_seq_no"`
		PrimaryTerm *int64 `json:"_primary_term"`
	}
	err := c.do(ctx, request{op: op, method: http.MethodGet, path: "/_plugins/_ism/policies" + escape(id)}, &current)
	q := url.Values{}
	switch {
	case err == nil && current.SeqNo != nil && current.PrimaryTerm != nil:
		q.Set("if_seq_no", fmt.Sprint(*current.SeqNo))
		q.Set("if_primary_term", fmt.Sprint(*current.PrimaryTerm))
	case err != nil && !errors.Is(err, ErrNotFound):
		return err
	}
	return c.do(ctx, request{op: op, method: http.MethodPut, path: "/_plugins/_ism/policies" + escape(id), query: q, body: body}, nil)
}

// DeleteISMPolicy deletes an ISM policy; a missing one gives ErrNotFound.
func (c *Client) DeleteISMPolicy(ctx context.Context, id string) error {
	return c.deleteConfig(ctx, "ISM policy", "/_plugins/_ism/policies", id)
}

// ISMPolicyOf is the ID of the ISM policy managing an index ("" when none does).
func (c *Client) ISMPolicyOf(ctx context.Context, index string) (string, error) {
	op := fmt.Sprintf("explain ISM of %q", index)
	if err := checkName(op, "index", index); err != nil {
		return "", err
	}
	var res map[string]json.RawMessage
	if err := c.do(ctx, request{op: op, method: http.MethodGet, path: "/_plugins/_ism/explain" + escape(index)}, &res); err != nil {
		return "", err
	}
	var ix struct {
		PolicyID string `json:"index.plugins.index_state_management.policy_id"`
		Policy   string `json:"policy_id"`
	}
	if raw, ok := res[index]; ok {
		if err := json.Unmarshal(raw, &ix); err != nil {
			return "", fmt.Errorf("%s: %w", op, err)
		}
	}
	if ix.PolicyID != "" {
		return ix.PolicyID, nil
	}
	return ix.Policy, nil
}

// AddISMPolicy attaches an ISM policy to an index: ISM starts it in the policy's default
// state. Attaching to an index that a policy already manages is refused with ErrConflict.
func (c *Client) AddISMPolicy(ctx context.Context, index, policyID string) error {
	op := fmt.Sprintf("attach ISM policy %q to %q", policyID, index)
	if err := checkName(op, "index", index); err != nil {
		return err
	}
	var res struct {
		Failures      bool `json:"failures"`
		FailedIndices []struct {
			Reason string `json:"reason"`
		} `json:"failed_indices"`
	}
	if err := c.do(ctx, request{op: op, method: http.MethodPost, path: "/_plugins/_ism/add" + escape(index), body: map[string]any{"policy_id": policyID}}, &res); err != nil {
		return err
	}
	if res.Failures && len(res.FailedIndices) > 0 {
		return fmt.Errorf("%s: %w: %s", op, ErrConflict, res.FailedIndices[0].Reason)
	}
	return nil
}
