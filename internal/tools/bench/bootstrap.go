package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/opensearch"
)

// bootLeader is P2's leader; its indexes are boot-000...
const bootLeader = "boot-leader"

// bootstrap is P2: a leader of cfg.bootIndexes indexes of cfg.bootDocs documents each, and
// three fresh standalone clusters that each become its follower, one after the other, each
// timed from the first request until every index is SYNCING and caught up (the follower's
// checkpoints equal to the leader's, then every document count checked equal):
//
//   - osccr: the integration (an existing service made a follower, through internal/control);
//   - a plain loop: the remote connection, then every index's _start at once (parallel);
//   - autofollow: the remote connection and a rule for boot-*, at the plugin's best settings.
//
// Each follower is deleted before the next starts, so each runs alone on the machine.
func (b *bench) bootstrap(ctx context.Context, cfg config, res *results) error {
	began := time.Now()
	fmt.Fprintf(os.Stderr, "bench: P2, a leader with %d indexes of %d documents...\n", cfg.bootIndexes, cfg.bootDocs)
	lc, err := b.leader(ctx, bootLeader)
	if err != nil {
		return err
	}
	names := make([]string, cfg.bootIndexes)
	for i := range names {
		names[i] = fmt.Sprintf("boot-%03d", i)
	}
	loadStarted := time.Now()
	if err := load(ctx, lc, names, cfg.bootDocs); err != nil {
		return err
	}
	counts := map[string]int64{}
	for _, n := range names {
		if counts[n], err = lc.Count(ctx, n); err != nil {
			return err
		}
		if counts[n] != int64(cfg.bootDocs) {
			return fmt.Errorf("leader index %s has %d documents, want %d", n, counts[n], cfg.bootDocs)
		}
	}
	leaderCP, err := lc.Checkpoints(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: P2, loaded in %s\n", time.Since(loadStarted).Round(time.Second))
	leader, err := b.ctl.GetService(ctx, bootLeader)
	if err != nil {
		return err
	}
	contenders := []struct {
		name, contender string
		start           func(ctx context.Context, fc *opensearch.Client, dest string) error
	}{
		{"boot-loop", "plain loop (every _start at once)", func(ctx context.Context, fc *opensearch.Client, _ string) error {
			if err := fc.SetRemoteCluster(ctx, bootLeader, []string{leader.Endpoints.TransportAddress}); err != nil {
				return err
			}
			return startLoop(ctx, fc, bootLeader, names)
		}},
		{"boot-osccr", "osccr", func(ctx context.Context, _ *opensearch.Client, dest string) error {
			_, err := b.ctl.CreateIntegration(ctx, control.CreateIntegrationRequest{Type: control.IntegrationTypeCCR, Source: bootLeader, Dest: dest})
			return err
		}},
		{"boot-auto", "plugin autofollow (30 s poll, 10 jobs at once: its best)", func(ctx context.Context, fc *opensearch.Client, _ string) error {
			if err := fc.SetRemoteCluster(ctx, bootLeader, []string{leader.Endpoints.TransportAddress}); err != nil {
				return err
			}
			if err := fc.PutPersistentClusterSettings(ctx, autofollowBest); err != nil {
				return err
			}
			return fc.StartAutofollow(ctx, opensearch.AutofollowRule{LeaderAlias: bootLeader, Name: "boot", Pattern: "boot-*"})
		}},
	}
	for _, c := range contenders {
		fc, err := b.leader(ctx, c.name) // a fresh standalone cluster
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench: P2, %s...\n", c.contender)
		requested := time.Now()
		if err := c.start(ctx, fc, c.name); err != nil {
			return fmt.Errorf("%s: %w", c.contender, err)
		}
		if err := caughtUp(ctx, fc, names, leaderCP, 30*time.Minute); err != nil {
			return fmt.Errorf("%s: %w", c.contender, err)
		}
		took := time.Since(requested)
		for _, n := range names { // the follower refreshes every second: its count follows
			var got int64
			err := waitFor(ctx, 30*time.Second, func() bool {
				got, err = fc.Count(ctx, n)
				return err == nil && got == counts[n]
			})
			if err != nil {
				return fmt.Errorf("%s: follower index %s has %d documents, the leader %d: %w", c.contender, n, got, counts[n], err)
			}
		}
		fmt.Fprintf(os.Stderr, "bench: P2 %s: %s\n", c.contender, took.Round(time.Millisecond))
		res.add("P2", fmt.Sprintf("bootstrap %d indexes x %d documents -> all SYNCING and caught up (from the first request)", cfg.bootIndexes, cfg.bootDocs), c.contender, []time.Duration{took})
		b.remove(ctx, c.name)
	}
	res.note("P2", "one trial of each, one after the other on a fresh cluster each (the previous one deleted); caught up: every follower index SYNCING, its checkpoints equal to the leader's, then every document count equal. osccr bootstraps at most 4 indexes at once.")
	res.part("P2", fmt.Sprintf("%d indexes x %d documents, %s nodes", cfg.bootIndexes, cfg.bootDocs, cfg.plan), began)
	return nil
}

// load creates the leader indexes (one shard, no replica) and writes docs documents into each,
// two bulk writers at once, then refreshes them.
func load(ctx context.Context, lc *opensearch.Client, names []string, docs int) error {
	for _, n := range names {
		if err := lc.CreateIndex(ctx, n, map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}}); err != nil {
			return err
		}
	}
	work := make(chan string)
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for n := range work {
				for start := 0; start < docs; start += 5000 {
					batch := make([]opensearch.Doc, 0, 5000)
					for i := start; i < min(start+5000, docs); i++ {
						batch = append(batch, opensearch.Doc{ID: fmt.Sprintf("%s-%06d", n, i), Source: map[string]any{"n": i, "index": n, "msg": strings.Repeat("x", 64)}})
					}
					if err := lc.Bulk(ctx, n, batch); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	var err error
feed:
	for _, n := range names {
		select {
		case work <- n:
		case err = <-errs:
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err != nil {
		return err
	}
	if err := <-errs; err != nil {
		return err
	}
	for _, n := range names {
		if err := lc.Refresh(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// caughtUp waits until every index is a SYNCING follower index on fc whose checkpoints have
// reached the leader's (leaderCP: read once the leader was loaded; nothing writes to it since).
// startLoop is the plain loop an operator scripts: every _start at once. On a busy follower
// the plugin may answer a _start with an error (a timeout waiting for its persistent task)
// while the replication is in fact being set up; the script then looks at the index's status
// and asks again only when it is not replicating, for up to startLoopFor.
func startLoop(ctx context.Context, fc *opensearch.Client, alias string, names []string) error {
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, n := range names {
		wg.Go(func() { errs[i] = startOne(ctx, fc, alias, n) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

const startLoopFor = 3 * time.Minute

func startOne(ctx context.Context, fc *opensearch.Client, alias, name string) error {
	deadline := time.Now().Add(startLoopFor)
	for {
		err := fc.StartReplication(ctx, name, opensearch.StartReplicationRequest{LeaderAlias: alias, LeaderIndex: name})
		if err == nil {
			return nil
		}
		started := waitEvery(ctx, 30*time.Second, 500*time.Millisecond, func() bool {
			st, serr := fc.ReplicationStatus(ctx, name)
			return serr == nil && st.Replicating()
		})
		if started == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("start %s (asked for %s): %w", name, startLoopFor, err)
		}
	}
}

func caughtUp(ctx context.Context, fc *opensearch.Client, names []string, leaderCP map[string]opensearch.IndexCheckpoints, limit time.Duration) error {
	var last string
	err := waitEvery(ctx, limit, 100*time.Millisecond, func() bool {
		cp, err := fc.Checkpoints(ctx)
		if err != nil {
			last = err.Error()
			return false
		}
		behind := 0
		for _, n := range names {
			if f, ok := cp[n]; !ok || f.LocalCheckpoint < leaderCP[n].GlobalCheckpoint {
				behind++
			}
		}
		if behind > 0 {
			last = fmt.Sprintf("%d of %d indexes not caught up", behind, len(names))
			return false
		}
		for _, n := range names {
			st, err := fc.ReplicationStatus(ctx, n)
			if err != nil || st.Status != opensearch.StatusSyncing {
				last = fmt.Sprintf("%s is %s (%v)", n, st.Status, err)
				return false
			}
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("not caught up: %s: %w", last, err)
	}
	return nil
}
