package provision

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/osccr/osccr/internal/opensearch"
)

// healthTimeout bounds one health question: a cluster that takes longer is reported unreachable.
const healthTimeout = 10 * time.Second

// clusterHealth asks the cluster at httpURL for its health. Only a failure of the question
// itself (a cancelled ctx, a malformed URL) is an error; a cluster that does not answer is
// StatusUnreachable with the reason.
func clusterHealth(ctx context.Context, cfg opensearch.Config) (Health, error) {
	httpURL := strings.Join(cfg.URLs, ",")
	client, err := newClient(cfg, healthTimeout)
	if err != nil {
		return Health{}, err
	}
	h, err := client.Health(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return Health{}, fmt.Errorf("health of %s: %w", httpURL, ctx.Err())
		}
		return Health{Status: StatusUnreachable, Reason: err.Error()}, nil
	}
	out := Health{Status: string(h.Status), Nodes: h.NumberOfNodes}
	switch h.Status {
	case opensearch.HealthGreen:
	case opensearch.HealthYellow:
		out.Reason = fmt.Sprintf("%d replica shards unassigned", h.UnassignedShards)
	case opensearch.HealthRed:
		out.Reason = fmt.Sprintf("some primary shards unassigned (%d shards unassigned in all)", h.UnassignedShards)
	default:
		out.Reason = fmt.Sprintf("cluster reports unknown status %q", h.Status)
	}
	return out, nil
}

// newClient returns a client for a service's REST endpoint, with the call timeout given.
func newClient(cfg opensearch.Config, timeout time.Duration) (*opensearch.Client, error) {
	cfg.Timeout = timeout
	return opensearch.New(cfg)
}

// plain is the configuration of a cluster reached over plain HTTP without credentials.
func plain(httpURL string) opensearch.Config { return opensearch.Config{URLs: []string{httpURL}} }
