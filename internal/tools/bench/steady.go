package main

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/osccr/osccr/internal/opensearch"
)

// steadyIndex is P3's leader index.
const steadyIndex = "steady"

// steadyLag is P3: the leader takes cfg.rate documents a second for cfg.steady (a bulk request
// every 100 ms) while the follower's lag is read once a second as osccr reports it (the
// follower status: its worst index's lag in seconds, from the checkpoints the leader watch
// samples), and, for comparison, the plugin's own view (its leader and follower checkpoints,
// operations behind, divided by the write rate).
func (b *bench) steadyLag(ctx context.Context, cfg config, res *results, lc, fc *opensearch.Client) error {
	began := time.Now()
	if _, err := pickup(ctx, lc, fc, steadyIndex, 2*time.Minute); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: P3, %d documents/s for %s...\n", cfg.rate, cfg.steady)
	writeCtx, stopWrites := context.WithCancel(ctx)
	defer stopWrites()
	const batchEvery = 100 * time.Millisecond
	perBatch := max(cfg.rate/10, 1)
	var written atomic.Int64
	writeErr := make(chan error, 1)
	go func() {
		tick := time.NewTicker(batchEvery)
		defer tick.Stop()
		var n int
		for {
			docs := make([]opensearch.Doc, perBatch)
			for i := range docs {
				docs[i] = opensearch.Doc{ID: fmt.Sprintf("d%08d", n), Source: map[string]any{"n": n, "at": time.Now().UnixMilli(), "msg": "steady state write"}}
				n++
			}
			if err := lc.Bulk(ctx, steadyIndex, docs); err != nil { // whole requests: the count written is exact
				writeErr <- err
				return
			}
			written.Add(int64(len(docs)))
			select {
			case <-writeCtx.Done():
				writeErr <- nil
				return
			case <-tick.C:
			}
		}
	}()
	var osccrLag, pluginLag []time.Duration
	var missing int
	sample := time.NewTicker(time.Second)
	defer sample.Stop()
	end := time.Now().Add(cfg.steady)
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-writeErr:
			return fmt.Errorf("writes stopped: %w", err)
		case <-sample.C:
		}
		st, err := b.ctl.FollowerStatus(ctx, "bench-follower")
		if err != nil {
			return fmt.Errorf("follower status: %w", err)
		}
		if st.LagSeconds == nil {
			missing++
		} else {
			osccrLag = append(osccrLag, time.Duration(*st.LagSeconds*float64(time.Second)))
		}
		for _, ix := range st.Indexes {
			if ix.Index == steadyIndex {
				pluginLag = append(pluginLag, time.Duration(float64(ix.LagOps)/float64(cfg.rate)*float64(time.Second)))
			}
		}
	}
	stopWrites()
	if err := <-writeErr; err != nil {
		return fmt.Errorf("writes: %w", err)
	}
	achieved := float64(written.Load()) / cfg.steady.Seconds()
	if len(osccrLag) == 0 {
		return fmt.Errorf("the follower status never had a lag in seconds (%d samples without)", missing)
	}
	// The follower must end with every document: the lag measured is of a replication that works.
	want := written.Load()
	err := waitFor(ctx, 2*time.Minute, func() bool {
		n, err := fc.Count(ctx, steadyIndex)
		return err == nil && n == want
	})
	if err != nil {
		n, _ := fc.Count(ctx, steadyIndex)
		return fmt.Errorf("the follower has %d of the %d documents written: %w", n, want, err)
	}
	m := fmt.Sprintf("lag in seconds under %d documents/s for %s, sampled once a second", cfg.rate, cfg.steady)
	res.add("P3", m, "osccr (follower status lag_seconds)", osccrLag)
	res.add("P3", m, "plugin's view (its operations behind / write rate)", pluginLag)
	res.note("P3", "%d documents written in %s (%.0f/s achieved, bulk of %d every 100 ms, one index of one shard); every one on the follower afterwards; %d of %d samples had no lag in seconds.",
		want, cfg.steady, achieved, perBatch, missing, missing+len(osccrLag))
	res.part("P3", fmt.Sprintf("%d docs/s for %s", cfg.rate, cfg.steady), began)
	return nil
}
