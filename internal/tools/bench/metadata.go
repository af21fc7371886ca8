package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/osccr/osccr/internal/opensearch"
)

// metaIndex is P6's leader index: osccr's follower replicates it (it replicates every leader
// index) and so does the autofollow cluster (its rule matches auto-*).
const metaIndex = "auto-meta"

// metaChange is one kind of change P6 makes to the leader index, and how a follower shows it.
type metaChange struct {
	kind  string
	apply func(ctx context.Context, lc *opensearch.Client, trial int) error
	seen  func(def opensearch.IndexDefinition, trial int) bool
}

var metaChanges = []metaChange{
	{
		// A new field arrives on a follower index with the first document that uses it (the
		// plugin's metadata sync does not carry a field no document uses).
		kind: "mapping (a new field, by a document)",
		apply: func(ctx context.Context, lc *opensearch.Client, i int) error {
			return lc.IndexDocument(ctx, metaIndex, fmt.Sprintf("doc-%03d", i), map[string]any{fmt.Sprintf("field_%03d", i): "x"})
		},
		seen: func(def opensearch.IndexDefinition, i int) bool {
			return strings.Contains(string(def.Mappings), fmt.Sprintf("%q", fmt.Sprintf("field_%03d", i)))
		},
	},
	{
		kind: "alias (added)",
		apply: func(ctx context.Context, lc *opensearch.Client, i int) error {
			return lc.UpdateAliases(ctx, opensearch.AliasAction{Op: opensearch.AliasAdd, Index: metaIndex, Alias: fmt.Sprintf("meta-alias-%03d", i)})
		},
		seen: func(def opensearch.IndexDefinition, i int) bool {
			_, ok := def.Aliases[fmt.Sprintf("meta-alias-%03d", i)]
			return ok
		},
	},
	{
		kind: "setting (index.max_result_window)",
		apply: func(ctx context.Context, lc *opensearch.Client, i int) error {
			return lc.PutIndexSettings(ctx, metaIndex, map[string]any{"index.max_result_window": 20000 + i})
		},
		seen: func(def opensearch.IndexDefinition, i int) bool {
			return def.Setting("index.max_result_window") == fmt.Sprint(20000+i)
		},
	},
}

// metadata is P6: a mapping, an alias or a setting changed on a leader index; how long until
// osccr's follower index has it, and the plugin's own follower index at its defaults (the
// autofollow cluster; its metadata sync every 60 s, where osccr sets its followers' to 5 s,
// the plugin's minimum: a follower index refuses metadata from anyone but the plugin). Both
// follow the same leader index, so one change is watched on both; the changes are one at a
// time, each kind's trials in turn.
func (b *bench) metadata(ctx context.Context, cfg config, res *results, lc, fc, ac *opensearch.Client) error {
	began := time.Now()
	if err := lc.CreateIndex(ctx, metaIndex, map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}}); err != nil {
		return err
	}
	for _, c := range []*opensearch.Client{fc, ac} {
		err := waitFor(ctx, 3*time.Minute, func() bool {
			st, err := c.ReplicationStatus(ctx, metaIndex)
			return err == nil && st.Status == opensearch.StatusSyncing
		})
		if err != nil {
			return fmt.Errorf("%s not SYNCING on %v: %w", metaIndex, c.URLs(), err)
		}
	}
	limit := 2 * time.Minute
	fmt.Fprintf(os.Stderr, "bench: P6, %d trials of each change...\n", cfg.metaTrials)
	missed := map[string]int{}
	for _, ch := range metaChanges {
		var osccr, plugin []time.Duration
		for i := range cfg.metaTrials {
			requested := time.Now()
			if err := ch.apply(ctx, lc, i); err != nil {
				return fmt.Errorf("%s, trial %d: %w", ch.kind, i+1, err)
			}
			var tookO, tookP time.Duration
			_ = waitEvery(ctx, limit, 50*time.Millisecond, func() bool {
				for _, x := range []struct {
					c    *opensearch.Client
					took *time.Duration
				}{{fc, &tookO}, {ac, &tookP}} {
					if *x.took != 0 {
						continue
					}
					if def, err := x.c.GetIndex(ctx, metaIndex); err == nil && ch.seen(def, i) {
						*x.took = time.Since(requested)
					}
				}
				return tookO != 0 && tookP != 0
			})
			if tookO == 0 {
				return fmt.Errorf("%s, trial %d: not on osccr's follower after %s", ch.kind, i+1, limit)
			}
			osccr = append(osccr, tookO)
			if tookP == 0 {
				missed[ch.kind]++
			} else {
				plugin = append(plugin, tookP)
			}
			fmt.Fprintf(os.Stderr, "bench: P6 %s trial %d: osccr %s, plugin %s\n", ch.kind, i+1, ms(tookO), ms(tookP))
		}
		m := "leader index " + ch.kind + " -> on the follower index (from the request)"
		res.add("P6", m, "osccr", osccr)
		if len(plugin) > 0 {
			res.add("P6", m, "plugin default (metadata sync every 60 s)", plugin)
		}
	}
	note := "osccr's follower and the plugin at its defaults follow the same leader index; each change is watched on both (50 ms polls). " +
		"osccr sets its followers' metadata sync to 5 s (the plugin's minimum; its default 60 s): a follower index takes metadata from the plugin only, so osccr cannot push it sooner."
	if len(missed) > 0 {
		raw, _ := json.Marshal(missed)
		note += fmt.Sprintf(" Changes the plugin alone had not applied after %s: %s.", limit, raw)
	}
	res.note("P6", "%s", note)
	res.part("P6", fmt.Sprintf("%d trials of each change", cfg.metaTrials), began)
	return nil
}
