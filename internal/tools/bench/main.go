// Command bench measures osccr through the real integration workflow and the real CCR plugin,
// side by side with what the plugin offers by itself, in the same run on the same machine,
// each competitor at its best settings, their trials one at a time (never at once):
//
//   - P1 new-index pickup: a leader index is created; how long until its follower index is
//     SYNCING, on osccr's follower and on a cluster with the plugin's autofollow, alternating;
//   - P2 bootstrap of many indexes: osccr's integration, a plain loop of _start, autofollow,
//     each on a fresh cluster, until every index is SYNCING and caught up (bootstrap.go);
//   - P3 lag in seconds under steady writes, as the follower status reports it (steady.go);
//   - P4 promotion of many indexes vs a sequential _stop loop (promotion.go);
//   - P5 deletion propagation (the plugin leaves the follower index, paused: no figure);
//   - P6 mapping, alias and setting propagation vs the plugin alone (metadata.go);
//   - P7 the control plane's cost per idle follower, with 1, 5 and 10 followers: the leader's
//     REST requests a second (counted by the leader itself, _nodes/usage, less the leader
//     alone), history events an hour of the integration workflows, and the CPU and memory of
//     this process (the whole control plane: Temporal and the worker) while idle;
//   - P8 the recovery point: each write's lag from the leader's acknowledgement to the
//     follower, one document every 50 ms and 2000 documents/s, on 1 index x 1 shard and on 5
//     indexes x 3 shards, osccr's follower and the plugin alone following at once (rpo.go).
//
// It starts its own control plane (embedded Temporal and worker, as `osccr-worker --dev` does)
// and local services, prints a table, merges its rows into bench/results/results.json (the
// parts it ran replace theirs) and writes results.md and chart.png from it, and removes
// everything. Without the CCR plugin it fails, saying so.
//
//	go run ./internal/tools/bench [-only P2,P3] [-trials 30] [-idle 120s] [-out bench/results] [sizes: see -help]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	"go.uber.org/fx"

	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/workerapp"
)

// pollEvery is how often the follower is looked at while a trial waits: well below the
// latencies measured, and cheap (one REST call on this machine).
const pollEvery = 10 * time.Millisecond

func main() {
	var cfg config
	flag.IntVar(&cfg.trials, "trials", 30, "trials of each measurement (P1: of osccr and of autofollow each; P5 as many)")
	flag.DurationVar(&cfg.idle, "idle", 2*time.Minute, "how long P7 watches the idle control plane, for each follower count")
	flag.StringVar(&cfg.out, "out", "bench/results", "where the results are written (merged into an existing results.json)")
	only := flag.String("only", "", "the parts to run, comma-separated (P1,P2,P3,P4,P5,P6,P7,P8); empty: all")
	flag.IntVar(&cfg.bootIndexes, "boot-indexes", 50, "P2: leader indexes to bootstrap")
	flag.IntVar(&cfg.bootDocs, "boot-docs", 20000, "P2: documents in each of them")
	flag.IntVar(&cfg.rate, "rate", 2000, "P3: documents a second written to the leader")
	flag.DurationVar(&cfg.steady, "steady", 60*time.Second, "P3: how long the writes last")
	flag.IntVar(&cfg.promoteIndexes, "promote-indexes", 100, "P4: follower indexes to promote")
	flag.StringVar(&cfg.plan, "plan", "business-4", "the plan of every service the bench creates (its local heap: business-4 256 MB, business-8 384 MB, business-16 512 MB)")
	flag.IntVar(&cfg.metaTrials, "meta-trials", 10, "P6: trials of each change (mapping, alias, setting)")
	flag.DurationVar(&cfg.rpoFor, "rpo-for", 60*time.Second, "P8: how long each write rate lasts on each layout")
	followers := flag.String("followers", "1,5,10", "P7: idle follower counts measured, ascending")
	redraw := flag.Bool("redraw", false, "run nothing: write results.md and chart.png again from the results.json under -out")
	flag.Parse()
	if *redraw {
		if err := redrawResults(cfg.out); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	var err error
	if cfg.only, err = parseParts(*only); err == nil {
		cfg.followers, err = parseCounts(*followers)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// config is the command line: which parts run, and their sizes (the by default).
type config struct {
	trials         int
	idle           time.Duration
	out            string
	only           map[string]bool // nil: every part
	bootIndexes    int
	bootDocs       int
	rate           int
	steady         time.Duration
	promoteIndexes int
	metaTrials     int
	followers      []int
	plan           string
	rpoFor         time.Duration
}

// allParts are the parts, in the order they run and are shown.
var allParts = []string{"P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8"}

func (c config) runs(part string) bool { return c.only == nil || c.only[part] }

// parseParts reads -only: "" is every part.
func parseParts(s string) (map[string]bool, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string]bool{}
	for p := range strings.SplitSeq(s, ",") {
		p = strings.ToUpper(strings.TrimSpace(p))
		if !slices.Contains(allParts, p) {
			return nil, fmt.Errorf("-only %q: unknown part %q (the parts are %s)", s, p, strings.Join(allParts, ","))
		}
		out[p] = true
	}
	return out, nil
}

// parseCounts reads -followers: ascending positive counts.
func parseCounts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || (len(out) > 0 && n <= out[len(out)-1]) {
			return nil, fmt.Errorf("-followers %q: want ascending positive counts, such as 1,5,10", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(ctx context.Context, cfg config) error {
	if cfg.trials < 1 || cfg.bootIndexes < 1 || cfg.bootDocs < 1 || cfg.rate < 10 || cfg.steady < time.Second || cfg.promoteIndexes < 1 || cfg.metaTrials < 1 || cfg.rpoFor < time.Second {
		return fmt.Errorf("sizes too small: -trials, -boot-indexes, -boot-docs, -promote-indexes and -meta-trials want at least 1, -rate 10, -steady and -rpo-for 1s")
	}
	dist, err := localnode.DistributionFromEnv()
	if err != nil {
		return err
	}
	if !dist.HasPlugin(localnode.CCRPluginName) {
		return fmt.Errorf("the OpenSearch distribution at %s has no %s plugin: the benchmark measures replication and cannot run without it "+
			"(install it: CCR_PLUGIN_ZIP=/path/to/opensearch-cross-cluster-replication-<version>.0.zip make opensearch)", dist.Home, localnode.CCRPluginName)
	}
	state, err := os.MkdirTemp("", "osccr-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)
	// Nodes may run as an unprivileged account: it must reach their directories.
	if err := os.Chmod(state, 0o755); err != nil {
		return err
	}

	fmt.Fprintln(os.Stderr, "bench: starting the control plane...")
	var temporal client.Client
	app := workerapp.New(workerapp.Config{Dev: true, StateDir: filepath.Join(state, "state"), Logger: slog.New(slog.DiscardHandler), Stdout: io.Discard},
		fx.Populate(&temporal), fx.NopLogger)
	startCtx, cancel := context.WithTimeout(ctx, app.StartTimeout())
	err = app.Start(startCtx)
	cancel()
	if err != nil {
		return fmt.Errorf("start the control plane: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), app.StopTimeout())
		defer cancel()
		_ = app.Stop(stopCtx)
	}()
	b := &bench{ctl: control.New(temporal), temporal: temporal, plan: cfg.plan}
	defer b.cleanUp()

	res := &results{Machine: machine(), OpenSearch: version(dist), Trials: cfg.trials, Started: time.Now().UTC()}
	ran := map[string]bool{}
	// P1, P5, P6, P3 and P7 share a leader, osccr's follower and the autofollow cluster.
	if cfg.runs("P1") || cfg.runs("P3") || cfg.runs("P5") || cfg.runs("P6") || cfg.runs("P7") {
		if err := b.shared(ctx, cfg, res, ran); err != nil {
			return err
		}
		b.cleanUp()
	}
	if cfg.runs("P2") {
		if err := b.bootstrap(ctx, cfg, res); err != nil {
			return fmt.Errorf("P2: %w", err)
		}
		ran["P2"] = true
		b.cleanUp()
	}
	if cfg.runs("P4") {
		if err := b.promotion(ctx, cfg, res); err != nil {
			return fmt.Errorf("P4: %w", err)
		}
		ran["P4"] = true
		b.cleanUp()
	}
	if cfg.runs("P8") {
		if err := b.rpo(ctx, cfg, res); err != nil {
			return fmt.Errorf("P8: %w", err)
		}
		ran["P8"] = true
		b.cleanUp()
	}
	res.Finished = time.Now().UTC()
	merged, err := mergeResults(filepath.Join(cfg.out, "results.json"), res, ran)
	if err != nil {
		return err
	}
	return merged.write(os.Stdout, cfg.out)
}

// shared runs P1, P5, P6, P3 and P7 (those asked for) on one leader, osccr's follower of it
// and a standalone cluster with the plugin's own autofollow rule (auto-* indexes).
func (b *bench) shared(ctx context.Context, cfg config, res *results, ran map[string]bool) error {
	fmt.Fprintln(os.Stderr, "bench: a leader, osccr's follower and the autofollow cluster...")
	lc, err := b.leader(ctx, "bench-leader")
	if err != nil {
		return err
	}
	var baseline float64
	if cfg.runs("P7") {
		if baseline, err = b.leaderRate(ctx, lc, cfg.idle/4); err != nil {
			return err
		}
	}
	fc, err := b.follower(ctx, "bench-leader", "bench-follower")
	if err != nil {
		return err
	}
	var ac *opensearch.Client
	if cfg.runs("P1") || cfg.runs("P6") {
		if ac, err = b.autofollower(ctx, lc); err != nil {
			return err
		}
	}
	if cfg.runs("P1") || cfg.runs("P5") {
		if err := b.pickupAndDeletion(ctx, cfg, res, lc, fc, ac); err != nil {
			return err
		}
		ran["P1"], ran["P5"] = cfg.runs("P1"), cfg.runs("P5")
	}
	if cfg.runs("P6") {
		if err := b.metadata(ctx, cfg, res, lc, fc, ac); err != nil {
			return fmt.Errorf("P6: %w", err)
		}
		ran["P6"] = true
	}
	if ac != nil { // idle from here on: its node would only take CPU from what follows
		b.remove(ctx, "bench-autofollow")
	}
	if cfg.runs("P3") {
		if err := b.steadyLag(ctx, cfg, res, lc, fc); err != nil {
			return fmt.Errorf("P3: %w", err)
		}
		ran["P3"] = true
	}
	if cfg.runs("P7") {
		if err := b.idleScaling(ctx, cfg, res, lc, baseline); err != nil {
			return fmt.Errorf("P7: %w", err)
		}
		ran["P7"] = true
	}
	return nil
}

// pickupAndDeletion is P1 (when asked for) and P5 (when asked for: without P1 its indexes are
// created first, untimed).
func (b *bench) pickupAndDeletion(ctx context.Context, cfg config, res *results, lc, fc, ac *opensearch.Client) error {
	trials := cfg.trials
	if cfg.runs("P1") {
		fmt.Fprintf(os.Stderr, "bench: P1, %d trials of osccr and of autofollow, alternating...\n", trials)
		var osccrPickup, autoPickup []time.Duration
		for i := range trials {
			took, err := pickup(ctx, lc, fc, fmt.Sprintf("bench-%03d", i), 2*time.Minute)
			if err != nil {
				return fmt.Errorf("P1 osccr trial %d: %w%s", i+1, err, b.diagnosis(ctx, fc, fmt.Sprintf("bench-%03d", i)))
			}
			osccrPickup = append(osccrPickup, took)
			took, err = pickup(ctx, lc, ac, fmt.Sprintf("auto-%03d", i), 3*time.Minute)
			if err != nil {
				return fmt.Errorf("P1 autofollow trial %d: %w", i+1, err)
			}
			autoPickup = append(autoPickup, took)
			fmt.Fprintf(os.Stderr, "bench: P1 trial %d: osccr %s, autofollow %s\n", i+1, ms(osccrPickup[i]), ms(took))
		}
		res.add("P1", "new leader index -> follower SYNCING (from the create request)", "osccr", osccrPickup)
		res.add("P1", "new leader index -> follower SYNCING (from the create request)", "plugin autofollow (30 s poll, its minimum)", autoPickup)
		res.part("P1", fmt.Sprintf("%d trials each", trials), res.Started)
	}
	if !cfg.runs("P5") {
		return nil
	}
	if !cfg.runs("P1") {
		for i := range trials {
			if _, err := pickup(ctx, lc, fc, fmt.Sprintf("bench-%03d", i), 2*time.Minute); err != nil {
				return fmt.Errorf("P5 setup %d: %w", i+1, err)
			}
		}
	}
	fmt.Fprintf(os.Stderr, "bench: P5, %d deletions...\n", trials)
	var deleted []time.Duration
	for i := range trials {
		name := fmt.Sprintf("bench-%03d", i)
		took, err := deletion(ctx, lc, fc, name)
		if err != nil {
			return fmt.Errorf("P5 trial %d: %w%s", i+1, err, b.diagnosis(ctx, fc, name))
		}
		deleted = append(deleted, took)
	}
	res.add("P5", "deleted leader index -> follower index gone (from the delete request)", "osccr", deleted)
	res.part("P5", fmt.Sprintf("%d trials", trials), res.Started)
	return nil
}

// bench holds the services to remove at the end.
type bench struct {
	ctl      *control.Control
	temporal client.Client
	created  []string // services, in creation order
	plan     string   // of every service created
}

// leader creates a standalone service (a leader once it has a follower) and waits until it
// is RUNNING.
func (b *bench) leader(ctx context.Context, name string) (*opensearch.Client, error) {
	if err := b.ctl.CreateService(ctx, control.CreateServiceRequest{Name: name, Plan: b.plan, Security: control.SecurityNone}); err != nil {
		return nil, err
	}
	b.created = append(b.created, name)
	leader, err := b.ctl.WaitService(ctx, name, nil)
	if err != nil {
		return nil, err
	}
	return opensearch.New(opensearch.Config{URLs: []string{leader.Endpoints.HTTPURL}, Timeout: time.Minute})
}

// follower creates osccr's follower of leader and waits until it is RUNNING.
func (b *bench) follower(ctx context.Context, leader, name string) (*opensearch.Client, error) {
	if err := b.ctl.CreateFollower(ctx, control.CreateFollowerRequest{Leader: leader, Name: name}); err != nil {
		return nil, err
	}
	b.created = append(b.created, name)
	follower, err := b.ctl.WaitService(ctx, name, nil)
	if err != nil {
		return nil, err
	}
	return opensearch.New(opensearch.Config{URLs: []string{follower.Endpoints.HTTPURL}, Timeout: 30 * time.Second})
}

// autofollower creates a standalone service and gives it the plugin's own autofollow rule for
// auto-* indexes of the leader, at the plugin's minimum poll interval.
func (b *bench) autofollower(ctx context.Context, lc *opensearch.Client) (*opensearch.Client, error) {
	if err := b.ctl.CreateService(ctx, control.CreateServiceRequest{Name: "bench-autofollow", Plan: b.plan, Security: control.SecurityNone}); err != nil {
		return nil, err
	}
	b.created = append(b.created, "bench-autofollow")
	st, err := b.ctl.WaitService(ctx, "bench-autofollow", nil)
	if err != nil {
		return nil, err
	}
	leader, err := b.ctl.GetService(ctx, "bench-leader")
	if err != nil {
		return nil, err
	}
	ac, err := opensearch.New(opensearch.Config{URLs: []string{st.Endpoints.HTTPURL}, Timeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	if err := ac.SetRemoteCluster(ctx, "bench-leader", []string{leader.Endpoints.TransportAddress}); err != nil {
		return nil, err
	}
	// Its best settings for autofollow: the minimum poll, the most replication jobs started at
	// once. Its metadata sync keeps the plugin's default (60 s): P6 compares osccr with that.
	if err := ac.PutPersistentClusterSettings(ctx, autofollowBest); err != nil {
		return nil, err
	}
	if err := ac.StartAutofollow(ctx, opensearch.AutofollowRule{LeaderAlias: "bench-leader", Name: "bench", Pattern: "auto-*"}); err != nil {
		return nil, err
	}
	return ac, nil
}

// diagnosis says what the follower and its integration report about a trial's index.
func (b *bench) diagnosis(ctx context.Context, fc *opensearch.Client, index string) string {
	st, err := b.ctl.GetService(ctx, "bench-follower")
	out := fmt.Sprintf("\nfollower: %s %q (%v)", st.State, st.Reason, err)
	if st.Replication != nil {
		out += fmt.Sprintf("; replication: %d of %d syncing, problems %+v", st.Replication.Syncing, st.Replication.Total, st.Replication.Problems)
	}
	rs, err := fc.ReplicationStatus(ctx, index)
	return out + fmt.Sprintf("\nplugin status of %s: %+v (%v)", index, rs, err)
}

// autofollowBest are the CCR plugin's autofollow settings at their fastest: it polls at its
// minimum (30 s) and starts up to 10 replication jobs at once (its maximum; 3 by default).
var autofollowBest = map[string]any{
	"plugins.replication.autofollow.fetch_poll_interval":                      "30s",
	"plugins.replication.autofollow.concurrent_replication_jobs_trigger_size": 10,
}

// cleanUp deletes the services, the followers first (a leader with followers cannot go).
func (b *bench) cleanUp() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, name := range slices.Backward(slices.Clone(b.created)) {
		b.remove(ctx, name)
	}
	b.created = nil
}

// remove deletes one service and waits until it is gone.
func (b *bench) remove(ctx context.Context, name string) {
	b.created = slices.DeleteFunc(b.created, func(n string) bool { return n == name })
	if err := b.ctl.DeleteService(ctx, name); err != nil && !errors.Is(err, control.ErrNotFound) {
		fmt.Fprintf(os.Stderr, "bench: delete service %s: %v\n", name, err)
		return
	}
	if err := b.ctl.WaitServiceGone(ctx, name); err != nil {
		fmt.Fprintf(os.Stderr, "bench: delete service %s: %v\n", name, err)
	}
}

// pickup creates a leader index and times, from the create request, how long until the index
// is SYNCING on the follower fc.
func pickup(ctx context.Context, lc, fc *opensearch.Client, name string, limit time.Duration) (time.Duration, error) {
	requested := time.Now()
	if err := lc.CreateIndex(ctx, name, map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}}); err != nil {
		return 0, err
	}
	err := waitFor(ctx, limit, func() bool {
		st, err := fc.ReplicationStatus(ctx, name)
		return err == nil && st.Status == opensearch.StatusSyncing
	})
	if err != nil {
		return 0, fmt.Errorf("follower index %s not SYNCING: %w", name, err)
	}
	return time.Since(requested), nil
}

// deletion deletes a leader index and times how long until its follower index is gone.
func deletion(ctx context.Context, lc, fc *opensearch.Client, name string) (time.Duration, error) {
	requested := time.Now()
	if err := lc.DeleteIndex(ctx, name); err != nil {
		return 0, err
	}
	err := waitFor(ctx, 2*time.Minute, func() bool {
		_, err := fc.GetIndex(ctx, name)
		return errors.Is(err, opensearch.ErrNotFound)
	})
	if err != nil {
		return 0, fmt.Errorf("follower index %s not deleted: %w", name, err)
	}
	return time.Since(requested), nil
}

func waitFor(ctx context.Context, limit time.Duration, done func() bool) error {
	return waitEvery(ctx, limit, pollEvery, done)
}

// waitEvery calls done every period until it is true, for at most limit.
func waitEvery(ctx context.Context, limit, period time.Duration, done func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(period)
	defer tick.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// percentile is the nearest-rank percentile p (0 is the minimum) of d.
func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Sorted(slices.Values(d))
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[max(rank-1, 0)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

func version(d localnode.Distribution) string {
	v, err := d.Version()
	if err != nil {
		return "?"
	}
	return v
}
