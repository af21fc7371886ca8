package contract

import (
	"slices"
	"time"
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

// LeaderProbeTimeout bounds LeaderReachable: a leader that answers nothing in this time is as
// good as gone for a promotion.
const LeaderProbeTimeout = 3 * time.Second
