package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/opensearch"
)

// VerifyFollower compares every index the follower replicates with its leader index:
//
//  1. list the leader's indexes a whole-cluster follower replicates (ListLeaderIndexes' rule);
//  2. for each, on both sides: refresh, then the document count, a SHA-256 digest of the sorted
//     set of document ids, and the mappings;
//  3. an index that differs is compared again, every second, for up to in.Settle: a follower
//     under writes trails its leader by a moment, a diverged one does not catch up.
//
// It only reads (a refresh is not a write), heartbeating after each index.
func (a *Activities) VerifyFollower(ctx context.Context, in contract.VerifyInput) (contract.VerifyReport, error) {
	leader, err := a.client(in.Leader)
	if err != nil {
		return contract.VerifyReport{}, err
	}
	follower, err := a.client(in.Follower)
	if err != nil {
		return contract.VerifyReport{}, err
	}
	all, err := leader.ListIndices(ctx)
	if err != nil {
		return contract.VerifyReport{}, classify(fmt.Errorf("list indexes of leader %s: %w", in.Leader.Name, err))
	}
	p := planIndexes(all)
	settle := in.Settle
	if settle == 0 {
		settle = contract.DefaultVerifySettle
	}
	report := contract.VerifyReport{Leader: in.Leader.Name, Follower: in.Follower.Name, Indexes: []contract.IndexVerification{}, Excluded: p.Excluded}
	for _, index := range p.Replicate {
		deadline := time.Now().Add(settle)
		var v contract.IndexVerification
		for {
			if v, err = compareIndex(ctx, leader, follower, index); err != nil {
				return contract.VerifyReport{}, classify(fmt.Errorf("verify %s: %w", index, err))
			}
			if v.Verdict == contract.VerifyEqual || !time.Now().Before(deadline) {
				break
			}
			activity.RecordHeartbeat(ctx, index)
			select {
			case <-ctx.Done():
				return contract.VerifyReport{}, ctx.Err()
			case <-time.After(time.Second):
			}
		}
		if v.Verdict != contract.VerifyEqual {
			report.Diverged++
		}
		report.Indexes = append(report.Indexes, v)
		activity.RecordHeartbeat(ctx, index)
	}
	if report.Configuration, err = compareConfiguration(ctx, leader, follower); err != nil {
		return contract.VerifyReport{}, classify(fmt.Errorf("compare the configuration of %s with %s: %w", in.Follower.Name, in.Leader.Name, err))
	}
	for _, c := range report.Configuration {
		report.ConfigLacking += len(c.Missing) + len(c.Differing)
	}
	return report, nil
}

// compareConfiguration compares the leader's configuration with the follower's along
// configChain, by value.
func compareConfiguration(ctx context.Context, leader, follower configAPI) ([]contract.ConfigVerification, error) {
	lm, err := leader.ClusterMetadata(ctx)
	if err != nil {
		return nil, err
	}
	fm, err := follower.ClusterMetadata(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]contract.ConfigVerification, 0, len(configChain))
	for _, k := range configChain {
		want, err := k.list(leader, ctx, lm)
		if err != nil {
			return nil, err
		}
		have, err := k.list(follower, ctx, fm)
		if err != nil {
			return nil, err
		}
		v := contract.ConfigVerification{Kind: strings.TrimSuffix(k.prefix, "/"), Follower: len(have)}
		for _, name := range slices.Sorted(maps.Keys(want)) {
			if strings.HasPrefix(name, ".") {
				continue
			}
			v.Leader++
			switch current, ok := have[name]; {
			case !ok:
				v.Missing = append(v.Missing, name)
			case !sameJSON(current, want[name]):
				v.Differing = append(v.Differing, name)
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// compareIndex reads one index on both sides once.
func compareIndex(ctx context.Context, leader, follower Cluster, index string) (contract.IndexVerification, error) {
	l, err := readIndex(ctx, leader, index)
	if err != nil {
		return contract.IndexVerification{}, fmt.Errorf("on the leader: %w", err)
	}
	v := contract.IndexVerification{Index: index, LeaderDocs: l.docs, LeaderDigest: l.digest}
	f, err := readIndex(ctx, follower, index)
	if errors.Is(err, opensearch.ErrNotFound) {
		v.Verdict, v.Detail = contract.VerifyMissingFollower, "the follower has no index "+index
		return v, nil
	}
	if err != nil {
		return contract.IndexVerification{}, fmt.Errorf("on the follower: %w", err)
	}
	v.FollowerDocs, v.FollowerDigest = f.docs, f.digest
	v.MappingsEqual = sameJSON(l.mappings, f.mappings)
	v.Verdict = contract.VerifyEqual
	switch {
	case l.digest != f.digest:
		v.Verdict = contract.VerifyDiverged
		v.Detail = fmt.Sprintf("document ids differ: %d on the leader, %d on the follower", l.docs, f.docs)
	case !v.MappingsEqual:
		v.Verdict = contract.VerifyDiverged
		v.Detail = "mappings differ"
	}
	return v, nil
}

type indexFacts struct {
	docs     int
	digest   string
	mappings json.RawMessage
}

func readIndex(ctx context.Context, c indexAPI, index string) (indexFacts, error) {
	def, err := c.GetIndex(ctx, index)
	if err != nil {
		return indexFacts{}, err
	}
	// A follower index refuses writes, not refreshes: both sides show every document they hold.
	if err := c.Refresh(ctx, index); err != nil {
		return indexFacts{}, err
	}
	ids, err := c.DocumentIDs(ctx, index)
	if err != nil {
		return indexFacts{}, err
	}
	return indexFacts{docs: len(ids), digest: idDigest(ids), mappings: def.Mappings}, nil
}

// idDigest is the SHA-256 of the sorted ids, each followed by a newline.
func idDigest(ids []string) string {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	h := sha256.New()
	for _, id := range sorted {
		h.Write([]byte(id))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}
