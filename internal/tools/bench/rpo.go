package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/opensearch"
)

// P8 measures the recovery point: how long after the leader acknowledged a write the follower
// has it, write by write, at a low and a high write rate, on one index of one shard and on five
// indexes of three shards, for osccr's follower and for a follower driven by the plugin alone
// (the remote connection and a _start per index, the plugin's defaults). Both follow the same
// leader at once, so they see the same writes at the same moments.

// rpoLayout is a set of leader indexes written together.
type rpoLayout struct {
	name    string
	indexes []string
	shards  int
}

// rpoRate is a write pattern: every tick, docs documents spread over the layout's indexes
// (one document a tick goes to each index in turn).
type rpoRate struct {
	name string
	tick time.Duration
	docs int
}

var (
	rpoLayouts = []rpoLayout{
		{name: "1 index x 1 shard", indexes: []string{"rpo-one"}, shards: 1},
		{name: "5 indexes x 3 shards", indexes: []string{"rpo-five-0", "rpo-five-1", "rpo-five-2", "rpo-five-3", "rpo-five-4"}, shards: 3},
	}
	rpoRates = []rpoRate{
		{name: "one document every 50 ms", tick: 50 * time.Millisecond, docs: 1},
		{name: "2000 documents/s", tick: 100 * time.Millisecond, docs: 200},
	}
)

// rpoPollEvery is how often both followers' checkpoints are read while writes go on.
const rpoPollEvery = 20 * time.Millisecond

// pendingWrite is a write acknowledged by the leader: the follower has it once every primary
// shard of its index has a local checkpoint at least the leader's right after the write.
type pendingWrite struct {
	index  string
	acked  time.Time
	target map[int]int64
}

// rpoFollower tracks the writes one follower has not shown yet, and how long each took.
type rpoFollower struct {
	name    string
	client  *opensearch.Client
	pending map[string][]pendingWrite // by index, oldest first
	lags    []time.Duration
}

func (f *rpoFollower) settle(at time.Time, shards map[string]map[int]opensearch.ShardSeqNo) {
	for index, queue := range f.pending {
		have := shards[index]
		i := 0
		for ; i < len(queue) && reachedAll(have, queue[i].target); i++ {
			f.lags = append(f.lags, at.Sub(queue[i].acked))
		}
		f.pending[index] = queue[i:]
	}
}

func (f *rpoFollower) left() int {
	n := 0
	for _, q := range f.pending {
		n += len(q)
	}
	return n
}

func reachedAll(have map[int]opensearch.ShardSeqNo, target map[int]int64) bool {
	for shard, cp := range target {
		h, ok := have[shard]
		if !ok || h.LocalCheckpoint < cp {
			return false
		}
	}
	return true
}

// rpo is P8.
func (b *bench) rpo(ctx context.Context, cfg config, res *results) error {
	began := time.Now()
	fmt.Fprintln(os.Stderr, "bench: P8, a leader, osccr's follower and a follower driven by the plugin alone...")
	lc, err := b.leader(ctx, "bench-leader")
	if err != nil {
		return err
	}
	var all []string
	for _, l := range rpoLayouts {
		for _, ix := range l.indexes {
			if err := lc.CreateIndex(ctx, ix, map[string]any{"settings": map[string]any{"number_of_shards": l.shards, "number_of_replicas": 0}}); err != nil {
				return err
			}
			all = append(all, ix)
		}
	}
	fc, err := b.follower(ctx, "bench-leader", "bench-follower")
	if err != nil {
		return err
	}
	pc, err := b.pluginFollower(ctx, all)
	if err != nil {
		return err
	}
	for _, c := range []*opensearch.Client{fc, pc} {
		for _, ix := range all {
			err := waitFor(ctx, 3*time.Minute, func() bool {
				st, err := c.ReplicationStatus(ctx, ix)
				return err == nil && st.Status == opensearch.StatusSyncing
			})
			if err != nil {
				return fmt.Errorf("follower index %s not SYNCING on %s: %w", ix, c, err)
			}
		}
	}
	var achieved []string
	for _, l := range rpoLayouts {
		for _, r := range rpoRates {
			fmt.Fprintf(os.Stderr, "bench: P8, %s, %s for %s...\n", l.name, r.name, cfg.rpoFor)
			osccr := &rpoFollower{name: "osccr", client: fc, pending: map[string][]pendingWrite{}}
			plugin := &rpoFollower{name: "plugin alone", client: pc, pending: map[string][]pendingWrite{}}
			written, docs, err := rpoRun(ctx, lc, l, r, cfg.rpoFor, osccr, plugin)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", l.name, r.name, err)
			}
			achieved = append(achieved, fmt.Sprintf("%s, %s: %.1f documents/s", r.name, l.name, float64(docs)/cfg.rpoFor.Seconds()))
			m := fmt.Sprintf("write acknowledged on the leader -> on the follower, %s, %s, %s", r.name, l.name, cfg.rpoFor)
			res.add("P8", m, "osccr", osccr.lags)
			res.add("P8", m, "plugin alone (_start, its defaults)", plugin.lags)
			fmt.Fprintf(os.Stderr, "bench: P8 %s, %s: %d writes; p50/p99 osccr %s/%s, plugin alone %s/%s\n", l.name, r.name, written,
				ms(percentile(osccr.lags, 50)), ms(percentile(osccr.lags, 99)), ms(percentile(plugin.lags, 50)), ms(percentile(plugin.lags, 99)))
		}
	}
	res.note("P8", "both followers follow the same leader at once and see the same writes; a write is on a follower when every primary shard of its index "+
		"has a local checkpoint at least the leader's read right after the acknowledgement (checkpoints read every %s). "+
		"A 2000 documents/s write is a bulk request per index every 100 ms; its lag counts once per request. "+
		"Rates achieved (a tick that could not be kept is skipped): %s. See docs/rpo.md for what bounds these figures.", rpoPollEvery, strings.Join(achieved, "; "))
	res.part("P8", fmt.Sprintf("%s per rate and layout", cfg.rpoFor), began)
	return nil
}

// pluginFollower creates a standalone service and makes it follow the leader's indexes with
// the plugin alone: the remote connection and one _start per index, nothing else.
func (b *bench) pluginFollower(ctx context.Context, indexes []string) (*opensearch.Client, error) {
	if err := b.ctl.CreateService(ctx, control.CreateServiceRequest{Name: "bench-plugin", Plan: b.plan, Security: control.SecurityNone}); err != nil {
		return nil, err
	}
	b.created = append(b.created, "bench-plugin")
	st, err := b.ctl.WaitService(ctx, "bench-plugin", nil)
	if err != nil {
		return nil, err
	}
	leader, err := b.ctl.GetService(ctx, "bench-leader")
	if err != nil {
		return nil, err
	}
	pc, err := opensearch.New(opensearch.Config{URLs: []string{st.Endpoints.HTTPURL}, Timeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	if err := pc.SetRemoteCluster(ctx, "bench-leader", []string{leader.Endpoints.TransportAddress}); err != nil {
		return nil, err
	}
	for _, ix := range indexes {
		if err := pc.StartReplication(ctx, ix, opensearch.StartReplicationRequest{LeaderAlias: "bench-leader", LeaderIndex: ix}); err != nil {
			return nil, err
		}
	}
	return pc, nil
}

// rpoRun writes at rate r into layout l for d, and returns the write requests and documents
// made once both followers have every one of them (or an error when they do not within two
// minutes).
func rpoRun(ctx context.Context, lc *opensearch.Client, l rpoLayout, r rpoRate, d time.Duration, followers ...*rpoFollower) (writes, n int, err error) {
	var mu sync.Mutex
	pollCtx, stopPoll := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopPoll(); wg.Wait() }()
	wg.Go(func() {
		tick := time.NewTicker(rpoPollEvery)
		defer tick.Stop()
		for pollCtx.Err() == nil {
			var inner sync.WaitGroup
			for _, f := range followers {
				inner.Go(func() {
					shards, err := f.client.ShardCheckpoints(pollCtx)
					if err != nil {
						return
					}
					at := time.Now()
					mu.Lock()
					f.settle(at, shards)
					mu.Unlock()
				})
			}
			inner.Wait()
			select {
			case <-pollCtx.Done():
			case <-tick.C:
			}
		}
	})

	turn := 0
	tick := time.NewTicker(r.tick)
	defer tick.Stop()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		// This tick's documents, by index: one document goes to the next index in turn; more
		// are spread evenly.
		batch := map[string][]opensearch.Doc{}
		for i := range r.docs {
			ix := l.indexes[turn%len(l.indexes)]
			if r.docs > 1 {
				ix = l.indexes[i%len(l.indexes)]
			}
			batch[ix] = append(batch[ix], opensearch.Doc{ID: fmt.Sprintf("d%09d", n), Source: map[string]any{"n": n, "at": time.Now().UnixMilli()}})
			n++
		}
		turn++
		acked := map[string]time.Time{}
		for _, ix := range l.indexes {
			docs := batch[ix]
			if len(docs) == 0 {
				continue
			}
			var err error
			if len(docs) == 1 {
				err = lc.IndexDocument(ctx, ix, docs[0].ID, docs[0].Source)
			} else {
				err = lc.Bulk(ctx, ix, docs)
			}
			if err != nil {
				return writes, n, err
			}
			acked[ix] = time.Now()
			writes++
		}
		// One read after this tick's writes: for each index written, its state right after its
		// own write (this tick wrote nothing else into it).
		shards, err := lc.ShardCheckpoints(ctx)
		if err != nil {
			return writes, n, err
		}
		mu.Lock()
		for ix, at := range acked {
			target := map[int]int64{}
			for shard, cp := range shards[ix] {
				target[shard] = cp.LocalCheckpoint
			}
			for _, f := range followers {
				f.pending[ix] = append(f.pending[ix], pendingWrite{index: ix, acked: at, target: target})
			}
		}
		mu.Unlock()
		select {
		case <-ctx.Done():
			return writes, n, ctx.Err()
		case <-tick.C:
		}
	}
	err = waitFor(ctx, 2*time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, f := range followers {
			if f.left() > 0 {
				return false
			}
		}
		return true
	})
	if err != nil {
		mu.Lock()
		defer mu.Unlock()
		for _, f := range followers {
			if n := f.left(); n > 0 {
				return writes, n, fmt.Errorf("%s's follower still lacks %d of %d writes after two minutes: %w", f.name, n, writes, err)
			}
		}
	}
	return writes, n, nil
}
