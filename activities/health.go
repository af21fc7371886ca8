package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/provision"
)

// Timing of WatchServiceHealth.
const (
	// HealthPollInterval is how often the health watch asks the service's cluster for its
	// health: one `GET _cluster/health` (local to the node that answers, about 400 bytes) each
	// time, the watch's whole idle cost to the cluster.
	HealthPollInterval = 2 * time.Second
	// DownAfter is how long a cluster must keep failing to answer, or stay red, before the
	// watch reports it: one slow answer on a loaded machine is not an outage.
	DownAfter = 5 * time.Second
	// healthCallTimeout bounds each look: a hung cluster is unreachable, not waited on.
	healthCallTimeout = 3 * time.Second
)

// WatchServiceHealth watches one service's cluster, heartbeating on every look, and returns
// its health as soon as it differs from in.Known (healthy, red or unreachable: green and
// yellow are the same), or after in.MaxWait without a change. It never fails because the
// cluster does not answer: that is what it reports. A cluster that goes down is reported once
// it has been down for DownAfter; one that comes back, at the first look that sees it answer
// with yellow or green, so that a repaired service is RUNNING again at once.
func (a *Activities) WatchServiceHealth(ctx context.Context, in contract.HealthInput) (contract.ClusterHealth, error) {
	c, err := a.client(in.Cluster)
	if err != nil {
		return contract.ClusterHealth{}, err
	}
	maxWait := in.MaxWait
	if maxWait <= 0 {
		maxWait = contract.DefaultHealthMaxWait
	}
	j := healthJudge{known: in.Known}
	deadline := time.Now().Add(maxWait)
	tick := time.NewTicker(HealthPollInterval)
	defer tick.Stop()
	for looks := 1; ; looks++ {
		now := time.Now()
		h := lookHealth(ctx, c)
		if ctx.Err() != nil {
			return contract.ClusterHealth{}, ctx.Err()
		}
		report, changed := j.see(h, now)
		if changed {
			return report, nil
		}
		if !now.Before(deadline) {
			return j.settled(), nil
		}
		activity.RecordHeartbeat(ctx, healthProgress{Looks: looks, Status: h.Status, Reason: h.Reason})
		select {
		case <-ctx.Done():
			return contract.ClusterHealth{}, ctx.Err()
		case <-tick.C:
		}
	}
}

// healthProgress is the health watch's heartbeat: enough to see in the Web UI that it looks.
type healthProgress struct {
	Looks  int    `json:"looks"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

func lookHealth(ctx context.Context, c clusterAPI) contract.ClusterHealth {
	hctx, cancel := context.WithTimeout(ctx, healthCallTimeout)
	defer cancel()
	h, err := c.Health(hctx)
	if err != nil {
		return contract.ClusterHealth{Status: provision.StatusUnreachable, Reason: "the cluster does not answer: " + err.Error()}
	}
	out := contract.ClusterHealth{Status: string(h.Status)}
	if h.Status == opensearch.HealthRed {
		out.Reason = fmt.Sprintf("the cluster is red: %d shards unassigned, %d initializing", h.UnassignedShards, h.InitializingShards)
	}
	return out
}

// healthJudge decides what the health watch reports: a change of class from what the caller
// knows, a bad one only once it has lasted DownAfter.
type healthJudge struct {
	known contract.ClusterHealth
	// badSince is when the cluster was first seen in the bad class it is in now (zero: it is
	// healthy, or the same as known).
	badSince time.Time
	badClass string
	last     contract.ClusterHealth
}

// settled is what a watch that ends without a change reports: the last look when it is of the
// known class, else (a bad look that has not lasted DownAfter) the known health.
func (j *healthJudge) settled() contract.ClusterHealth {
	if healthClass(j.last) == healthClass(j.known) {
		return j.last
	}
	return j.known
}

// see takes one look and returns what to report, and whether it is a change to report now.
func (j *healthJudge) see(h contract.ClusterHealth, now time.Time) (contract.ClusterHealth, bool) {
	j.last = h
	if j.known.Status == "" {
		return h, true // the first look, for a caller that knows nothing
	}
	if healthClass(h) == healthClass(j.known) {
		j.badSince, j.badClass = time.Time{}, ""
		return h, false
	}
	if !h.Unhealthy() {
		return h, true // back: at once
	}
	if j.badClass != healthClass(h) {
		j.badSince, j.badClass = now, healthClass(h)
	}
	return h, now.Sub(j.badSince) >= DownAfter
}
