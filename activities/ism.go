package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/osccr/osccr/internal/opensearch"
)

// ISM (Index State Management) on a follower: osccr copies the leader's policies like the rest
// of its configuration (kind ism-policy/ of configChain), keeps ISM off the follower indexes
// while they replicate (the plugin's _start takes index.plugins.index_state_management.
// auto_manage: false, which it keeps over the leader's settings), and when an index stops
// replicating (a promotion) turns it back on and attaches the policy its leader index had.
// docs/configuration-sync.md says the same.

// ismAPI is a cluster's ISM policies, and which policy manages an index.
// (Listing, putting and deleting policies is part of configAPI.)
type ismAPI interface {
	ISMPolicyOf(ctx context.Context, index string) (string, error)
	AddISMPolicy(ctx context.Context, index, policyID string) error
	PutIndexSettings(ctx context.Context, index string, settings any) error
}

// ISMPollInterval is how often the watch reads the leader's ISM policies: they live in a
// system index, which the metadata watch does not see. One request per interval per follower.
const ISMPollInterval = 10 * time.Second

// errNoISM is a cluster without the ISM plugin: it has no policies, and takes none.
var errNoISM = errors.New("the cluster has no ISM plugin")

// noISM reports whether err is a cluster's answer to an ISM call when ISM is not installed.
func noISM(err error) bool {
	var e *opensearch.Error
	return errors.As(err, &e) && e.Status == http.StatusBadRequest && strings.Contains(e.Reason+e.Type, "no handler found")
}

// listISMPolicies lists a cluster's ISM policies; a cluster without ISM has none.
func listISMPolicies(c configAPI, ctx context.Context) (map[string]json.RawMessage, error) {
	p, err := c.ListISMPolicies(ctx)
	if noISM(err) {
		return map[string]json.RawMessage{}, nil
	}
	return p, err
}

func putISMPolicy(c configAPI, ctx context.Context, id string, body json.RawMessage) error {
	err := c.PutISMPolicy(ctx, id, body)
	if noISM(err) {
		return errNoISM
	}
	return err
}

// ismFingerprint hashes a cluster's ISM policies ("" for none, so that a leader without
// policies fingerprints as before ISM was copied).
func ismFingerprint(policies map[string]json.RawMessage) string {
	if len(policies) == 0 {
		return ""
	}
	return fingerprint(map[string]map[string]json.RawMessage{ismPolicies.prefix: policies})
}

// configFingerprint is the fingerprint of everything SyncTemplates copies: the cluster
// metadata's part, and the ISM policies' when there are any.
func configFingerprint(metadata, ism string) string {
	if ism == "" {
		return metadata
	}
	return fingerprint(map[string]map[string]json.RawMessage{"": {"metadata": json.RawMessage(fmt.Sprintf("%q", metadata)), "ism": json.RawMessage(fmt.Sprintf("%q", ism))}})
}

// restoreISM gives ISM back an index that stopped replicating: auto_manage as the leader index
// has it (on, when the leader cannot say), and the policy the leader index had, started in the
// policy's default state. When the leader does not answer (a failover), the policy is the one
// whose ISM template matches the index with the highest priority, among the policies copied
// to the follower: what ISM itself would have attached to the leader index when it was
// created. An index that a policy already manages is left as it is. It answers the policy
// attached ("" for none).
func restoreISM(ctx context.Context, leader, follower Cluster, leaderIndex, followerIndex string) (string, error) {
	if current, err := follower.ISMPolicyOf(ctx, followerIndex); noISM(err) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("read the ISM policy of %s: %w", followerIndex, err)
	} else if current != "" {
		return current, nil
	}
	var policy, autoManage string
	known := false
	if leader != nil {
		lctx, cancel := context.WithTimeout(ctx, watchCallTimeout)
		p, err := leader.ISMPolicyOf(lctx, leaderIndex)
		if err == nil {
			policy, known = p, true
			if d, err := leader.GetIndex(lctx, leaderIndex); err == nil {
				autoManage = fmt.Sprint(d.Settings[opensearch.ISMAutoManage])
			}
		}
		cancel()
	}
	var value any // nil: back to the default, on
	if autoManage == "false" {
		value = false
	}
	if err := follower.PutIndexSettings(ctx, followerIndex, map[string]any{opensearch.ISMAutoManage: value, opensearch.ISMAutoManageLegacy: value}); err != nil {
		return "", fmt.Errorf("turn ISM back on for %s: %w", followerIndex, err)
	}
	if !known {
		policies, err := listISMPolicies(follower, ctx)
		if err != nil {
			return "", fmt.Errorf("list the ISM policies to attach to %s: %w", followerIndex, err)
		}
		policy = templatePolicy(policies, followerIndex)
	}
	if policy == "" {
		return "", nil
	}
	if err := follower.AddISMPolicy(ctx, followerIndex, policy); err != nil && !errors.Is(err, opensearch.ErrConflict) {
		return "", fmt.Errorf("attach ISM policy %s to %s: %w", policy, followerIndex, err)
	}
	return policy, nil
}

// templatePolicy is the policy whose ism_template matches index with the highest priority
// (ties: the smallest ID), "" when none does.
func templatePolicy(policies map[string]json.RawMessage, index string) string {
	best, bestPriority := "", -1
	for _, id := range slices.Sorted(maps.Keys(policies)) {
		var p struct {
			Policy struct {
				Templates []struct {
					Patterns []string `json:"index_patterns"`
					Priority int      `json:"priority"`
				} `json:"ism_template"`
			} `json:"policy"`
		}
		if json.Unmarshal(policies[id], &p) != nil {
			continue
		}
		for _, t := range p.Policy.Templates {
			for _, pattern := range t.Patterns {
				if ok, _ := path.Match(pattern, index); ok && t.Priority > bestPriority {
					best, bestPriority = id, t.Priority
				}
			}
		}
	}
	return best
}
