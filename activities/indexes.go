package activities

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/osccr/osccr/internal/opensearch"
)

// IndexPlan is which leader indexes a follower replicates, and which it leaves out and why.
type IndexPlan struct {
	Replicate []string    `json:"replicate"`
	Excluded  []Exclusion `json:"excluded"`
	// Bytes is the primary and replica store size of the indexes to replicate, for progress.
	Bytes int64 `json:"bytes"`
	// UUIDs maps each index to replicate to its UUID, which tells a recreated index apart.
	UUIDs map[string]string `json:"uuids,omitempty"`
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
	p := IndexPlan{Replicate: []string{}, Excluded: []Exclusion{}, UUIDs: map[string]string{}}
	for _, ix := range all {
		if reason := exclusion(ix.Name, ix.Hidden, ix.Status); reason != "" {
			p.Excluded = append(p.Excluded, Exclusion{ix.Name, reason})
			if reason == closedIndex {
				p.Closed = append(p.Closed, ix.Name)
			}
			continue
		}
		p.Replicate = append(p.Replicate, ix.Name)
		p.UUIDs[ix.Name] = ix.UUID
		p.Bytes += ix.StoreBytes
	}
	slices.Sort(p.Replicate)
	sortExclusions(p.Excluded)
	return p
}

// exclusion says why a whole-cluster follower leaves a leader index out, or "" when it
// replicates it: system and plugin indexes (dot-prefixed, which include data-stream backing
// indexes) and hidden indexes, which the replication plugin does not replicate; closed
// indexes, which it cannot start from.
func exclusion(name string, hidden bool, state string) string {
	switch {
	case strings.HasPrefix(name, "."):
		return "system or plugin index (dot-prefixed): not replicated by the CCR plugin"
	case hidden:
		return "hidden index: not replicated by the CCR plugin"
	case state == "close":
		return closedIndex
	}
	return ""
}

// closedIndex is the reason a closed user index is excluded.
const closedIndex = "closed index: open it on the leader to replicate it"

func sortExclusions(e []Exclusion) {
	slices.SortFunc(e, func(a, b Exclusion) int { return strings.Compare(a.Index, b.Index) })
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

// LeaderProbeTimeout bounds LeaderReachable: a leader that answers nothing in this time is as
// good as gone for a promotion.
const LeaderProbeTimeout = 3 * time.Second

// LeaderReachable reports whether the leader answers its REST endpoint within
// LeaderProbeTimeout. It never fails: not answering is the answer. A leader that is down
// refuses at once; a black-holed or frozen one accepts connections and never answers, which
// only a deadline tells.
func (a *Activities) LeaderReachable(ctx context.Context, leader ClusterRef) (bool, error) {
	c, err := a.client(leader)
	if err != nil {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, LeaderProbeTimeout)
	defer cancel()
	_, err = c.Info(ctx)
	return err == nil, nil
}
