package activities

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/opensearch"
)

// indexAPI is a cluster's indexes and their documents.
type indexAPI interface {
	ListIndices(ctx context.Context) ([]opensearch.IndexSummary, error)
	GetIndex(ctx context.Context, name string) (opensearch.IndexDefinition, error)
	CreateIndex(ctx context.Context, name string, body any) error
	DeleteIndex(ctx context.Context, name string) error
	Refresh(ctx context.Context, index string) error
	PrimarySeqNos(ctx context.Context, index string) (map[int]opensearch.ShardSeqNo, error)
	DocumentIDs(ctx context.Context, index string) ([]string, error)
}

// ListLeaderIndexes sorts the leader's indexes into those a whole-cluster follower replicates
// (every user index) and those it leaves out, each with the reason: system and plugin indexes
// (dot-prefixed, which include data-stream backing indexes) and hidden indexes, which the
// replication plugin does not replicate; closed indexes, which it cannot start from.
func (a *Activities) ListLeaderIndexes(ctx context.Context, leader contract.ClusterRef) (contract.IndexPlan, error) {
	c, err := a.client(leader)
	if err != nil {
		return contract.IndexPlan{}, err
	}
	all, err := c.ListIndices(ctx)
	if err != nil {
		return contract.IndexPlan{}, classify(fmt.Errorf("list indexes of leader %s: %w", leader.Name, err))
	}
	return planIndexes(all), nil
}

func planIndexes(all []opensearch.IndexSummary) contract.IndexPlan {
	p := contract.IndexPlan{Replicate: []string{}, Excluded: []contract.Exclusion{}, UUIDs: map[string]string{}}
	for _, ix := range all {
		if reason := exclusion(ix.Name, ix.Hidden, ix.Status); reason != "" {
			p.Excluded = append(p.Excluded, contract.Exclusion{Index: ix.Name, Reason: reason})
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

func sortExclusions(e []contract.Exclusion) {
	slices.SortFunc(e, func(a, b contract.Exclusion) int { return strings.Compare(a.Index, b.Index) })
}

// DisconnectRemote removes the follower's remote-cluster connection to the leader; removing
// one that is gone is not an error.
func (a *Activities) DisconnectRemote(ctx context.Context, in contract.ConnectInput) error {
	follower, err := a.client(in.Follower)
	if err != nil {
		return err
	}
	if err := follower.RemoveRemoteCluster(ctx, in.LeaderAlias); err != nil {
		return classify(fmt.Errorf("disconnect %s from leader %s: %w", in.Follower.Name, in.Leader.Name, err))
	}
	return nil
}

// LeaderReachable reports whether the leader answers its REST endpoint within
// LeaderProbeTimeout. It never fails: not answering is the answer. A leader that is down
// refuses at once; a black-holed or frozen one accepts connections and never answers, which
// only a deadline tells.
func (a *Activities) LeaderReachable(ctx context.Context, leader contract.ClusterRef) (bool, error) {
	c, err := a.client(leader)
	if err != nil {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, contract.LeaderProbeTimeout)
	defer cancel()
	_, err = c.Info(ctx)
	return err == nil, nil
}
