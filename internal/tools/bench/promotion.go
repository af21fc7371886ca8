package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/osccr/osccr/internal/opensearch"
)

// promoLeader is P4's leader; its indexes are promo-000...
const promoLeader = "promo-leader"

// promotion is P4: a leader of cfg.promoteIndexes small indexes, osccr's follower of it and a
// standalone cluster replicating every one of them through the plugin (a plain loop of
// _start); then, one after the other, the loop cluster's indexes are stopped one by one
// (the manual way: a sequential _stop loop) and osccr's follower is promoted, each timed from
// its first request until every index is an ordinary, writable index.
func (b *bench) promotion(ctx context.Context, cfg config, res *results) error {
	began := time.Now()
	fmt.Fprintf(os.Stderr, "bench: P4, a leader of %d indexes, osccr's follower and a plain follower...\n", cfg.promoteIndexes)
	lc, err := b.leader(ctx, promoLeader)
	if err != nil {
		return err
	}
	names := make([]string, cfg.promoteIndexes)
	for i := range names {
		names[i] = fmt.Sprintf("promo-%03d", i)
	}
	if err := load(ctx, lc, names, 10); err != nil {
		return err
	}
	fc, err := b.follower(ctx, promoLeader, "promo-follower")
	if err != nil {
		return err
	}
	loop, err := b.leader(ctx, "promo-loop")
	if err != nil {
		return err
	}
	leader, err := b.ctl.GetService(ctx, promoLeader)
	if err != nil {
		return err
	}
	if err := loop.SetRemoteCluster(ctx, promoLeader, []string{leader.Endpoints.TransportAddress}); err != nil {
		return err
	}
	if err := startLoop(ctx, loop, promoLeader, names); err != nil {
		return err
	}
	leaderCP, err := lc.Checkpoints(ctx)
	if err != nil {
		return err
	}
	for _, c := range []*opensearch.Client{loop, fc} {
		if err := caughtUp(ctx, c, names, leaderCP, 20*time.Minute); err != nil {
			return fmt.Errorf("followers of %v: %w", c.URLs(), err)
		}
	}

	fmt.Fprintln(os.Stderr, "bench: P4, the sequential _stop loop...")
	requested := time.Now()
	for _, n := range names {
		if err := loop.StopReplication(ctx, n); err != nil {
			return fmt.Errorf("stop %s: %w", n, err)
		}
	}
	loopTook := time.Since(requested)
	if err := writable(ctx, loop, names); err != nil {
		return fmt.Errorf("after the _stop loop: %w", err)
	}
	b.remove(ctx, "promo-loop")
	fmt.Fprintf(os.Stderr, "bench: P4 loop: %s; osccr's promotion...\n", ms(loopTook))

	requested = time.Now()
	report, err := b.ctl.Promote(ctx, "promo-follower")
	if err != nil {
		return err
	}
	osccrTook := time.Since(requested)
	if report.IndexesStopped != len(names) || len(report.IndexesDeleted) > 0 {
		return fmt.Errorf("osccr's promotion stopped %d indexes (want %d), deleted %v", report.IndexesStopped, len(names), report.IndexesDeleted)
	}
	if err := writable(ctx, fc, names); err != nil {
		return fmt.Errorf("after osccr's promotion: %w", err)
	}
	fmt.Fprintf(os.Stderr, "bench: P4 osccr: %s (its report: %s)\n", ms(osccrTook), report.Duration.Round(time.Millisecond))
	m := fmt.Sprintf("promote a follower of %d indexes -> every index an ordinary index (from the first request)", len(names))
	res.add("P4", m, "osccr (follower promote)", []time.Duration{osccrTook})
	res.add("P4", m, "manual sequential _stop loop", []time.Duration{loopTook})
	res.note("P4", "one trial of each, the loop first (on its own cluster, deleted before osccr's promotion); both checked afterwards: no index replicating, a document written to each. osccr's own report said %s (the promotion's workflow, without the request's round trips).",
		report.Duration.Round(time.Millisecond))
	res.part("P4", fmt.Sprintf("%d indexes", len(names)), began)
	return nil
}

// writable checks that no index is a follower index any more and that each takes a write.
func writable(ctx context.Context, c *opensearch.Client, names []string) error {
	states, err := c.ReplicationStates(ctx)
	if err != nil {
		return err
	}
	for _, n := range names {
		if st, ok := states[n]; ok {
			return fmt.Errorf("%s still replicating (%s)", n, st)
		}
		if err := c.IndexDocument(ctx, n, "after-promotion", map[string]any{"ok": true}); err != nil {
			return fmt.Errorf("write to %s: %w", n, err)
		}
	}
	return nil
}
