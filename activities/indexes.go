package activities

import (
	"context"
	"fmt"
	"slices"

	"github.com/osccr/osccr/internal/opensearch"
)

// IndexPlan is which leader indexes a follower replicates, and which it leaves out and why.
type IndexPlan struct {
	Replicate []string    `json:"replicate"`
	Excluded  []Exclusion `json:"excluded"`
	// Bytes is the primary and replica store size of the indexes to replicate, for progress.
	Bytes int64 `json:"bytes"`
	// Closed are the closed user indexes (also in Excluded).
	Closed []string `json:"closed,omitempty"`
}

// UserIndexes are the cluster's user indexes, open or closed: the ones a whole-cluster follower
// would replicate from it as a leader, and the ones that keep it from becoming a follower.
func (p IndexPlan) UserIndexes() []string {
	return slices.Sorted(slices.Values(append(slices.Clone(p.Replicate), p.Closed...)))
}

// Exclusion is a leader index the follower does not replicate.
type Exclusion struct {
	Index  string `json:"index"`
	Reason string `json:"reason"`
}

// ListLeaderIndexes sorts the leader's indexes into those a whole-cluster follower replicates
// (every user index) and those it leaves out, each with the reason: system and plugin indexes
// (dot-prefixed, which include data-stream backing indexes) and hidden indexes, which the
// replication plugin does not replicate; closed indexes, which it cannot start from.
func (a *Activities) ListLeaderIndexes(ctx context.Context, leader ClusterRef) (IndexPlan, error) {
	c, err := a.client(leader)
	if err != nil {
		return IndexPlan{}, err
	}
	all, err := c.ListIndices(ctx)
	if err != nil {
		return IndexPlan{}, classify(fmt.Errorf("list indexes of leader %s: %w", leader.Name, err))
	}
	return planIndexes(all), nil
}

func planIndexes(all []opensearch.IndexSummary) IndexPlan {
	p := IndexPlan{Replicate: []string{}, Excluded: []Exclusion{}}
	for _, ix := range all {
		switch {
		case ix.IsDotIndex():
			p.Excluded = append(p.Excluded, Exclusion{ix.Name, "system or plugin index (dot-prefixed): not replicated by the CCR plugin"})
		case ix.Hidden:
			p.Excluded = append(p.Excluded, Exclusion{ix.Name, "hidden index: not replicated by the CCR plugin"})
		case ix.Status == "close":
			p.Excluded = append(p.Excluded, Exclusion{ix.Name, "closed index: open it on the leader to replicate it"})
			p.Closed = append(p.Closed, ix.Name)
		default:
			p.Replicate = append(p.Replicate, ix.Name)
			p.Bytes += ix.StoreBytes
		}
	}
	slices.Sort(p.Replicate)
	slices.SortFunc(p.Excluded, func(a, b Exclusion) int {
		if a.Index < b.Index {
			return -1
		}
		if a.Index > b.Index {
			return 1
		}
		return 0
	})
	return p
}

// DisconnectRemote removes the follower's remote-cluster connection to the leader; removing
// one that is gone is not an error.
func (a *Activities) DisconnectRemote(ctx context.Context, in ConnectInput) error {
	follower, err := a.client(in.Follower)
	if err != nil {
		return err
	}
	if err := follower.RemoveRemoteCluster(ctx, in.LeaderAlias); err != nil {
		return classify(fmt.Errorf("disconnect %s from leader %s: %w", in.Follower.Name, in.Leader.Name, err))
	}
	return nil
}
