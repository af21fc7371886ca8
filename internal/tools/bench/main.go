// Command bench measures how fast a RUNNING follower follows its leader, through the real
// integration workflow and the real CCR plugin, side by side with what the plugin offers by
// itself, in the same run on the same machine:
//
//   - P1 new-index pickup: a leader index is created; how long until its follower index is
//     SYNCING (from the create request), on osccr's follower and on a second follower that
//     uses the plugin's own autofollow at its minimum poll (30 s). Trials alternate between
//     the two (an index the autofollow rule matches, then one it does not), never at once;
//   - P5 deletion propagation: a leader index is deleted; how long until osccr's follower index
//     is gone (the plugin leaves it, paused: it has no figure);
//   - P7 the control plane's cost per idle follower: the leader's REST requests a second
//     (counted by the leader itself, _nodes/usage, less the leader alone), history events an
//     hour of the integration workflow, and the CPU and memory of this process (the whole
//     control plane: Temporal and the worker) while idle.
//
// It starts its own control plane (embedded Temporal and worker, as `osccr-worker --dev` does)
// and three local services (a leader, osccr's follower, a standalone cluster the autofollow
// rule runs on), prints a table, writes bench/results/{results.md,results.json,chart.png}, and
// removes everything. Without the CCR plugin it fails, saying so.
//
//	go run ./internal/tools/bench [-trials 30] [-idle 120s] [-out bench/results]
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
	trials := flag.Int("trials", 30, "trials of each measurement (P1: of osccr and of autofollow each)")
	idle := flag.Duration("idle", 2*time.Minute, "how long P7 watches the idle control plane")
	out := flag.String("out", "bench/results", "where the results are written")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *trials, *idle, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, trials int, idle time.Duration, outDir string) error {
	if trials < 1 {
		return fmt.Errorf("-trials %d: want at least 1", trials)
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

	fmt.Fprintln(os.Stderr, "bench: starting the control plane, a leader and its follower...")
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
	ctl := control.New(temporal)

	b := &bench{ctl: ctl, temporal: temporal}
	defer b.cleanUp()
	lc, err := b.leader(ctx)
	if err != nil {
		return err
	}
	baseline, err := b.leaderRate(ctx, lc, idle/4)
	if err != nil {
		return err
	}
	fc, err := b.follower(ctx)
	if err != nil {
		return err
	}
	ac, err := b.autofollower(ctx, lc)
	if err != nil {
		return err
	}

	res := results{Machine: machine(), OpenSearch: version(dist), Trials: trials, Started: time.Now().UTC()}
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

	fmt.Fprintf(os.Stderr, "bench: P7, the idle control plane for %s...\n", idle)
	if res.Idle, err = b.idleCost(ctx, lc, idle, baseline); err != nil {
		return err
	}
	res.Finished = time.Now().UTC()
	return res.write(os.Stdout, outDir)
}

// bench holds the services to remove at the end.
type bench struct {
	ctl      *control.Control
	temporal client.Client
	created  []string // services, in creation order
}

// leader creates the leader.
func (b *bench) leader(ctx context.Context) (*opensearch.Client, error) {
	if err := b.ctl.CreateService(ctx, control.CreateServiceRequest{Name: "bench-leader", Plan: "business-4", Security: control.SecurityNone}); err != nil {
		return nil, err
	}
	b.created = append(b.created, "bench-leader")
	leader, err := b.ctl.WaitService(ctx, "bench-leader", nil)
	if err != nil {
		return nil, err
	}
	return opensearch.New(opensearch.Config{URLs: []string{leader.Endpoints.HTTPURL}})
}

// follower creates osccr's follower of the leader and waits until it is RUNNING.
func (b *bench) follower(ctx context.Context) (*opensearch.Client, error) {
	if err := b.ctl.CreateFollower(ctx, control.CreateFollowerRequest{Leader: "bench-leader", Name: "bench-follower"}); err != nil {
		return nil, err
	}
	b.created = append(b.created, "bench-follower")
	follower, err := b.ctl.WaitService(ctx, "bench-follower", nil)
	if err != nil {
		return nil, err
	}
	return opensearch.New(opensearch.Config{URLs: []string{follower.Endpoints.HTTPURL}, Timeout: 5 * time.Second})
}

// autofollower creates a standalone service and gives it the plugin's own autofollow rule for
// auto-* indexes of the leader, at the plugin's minimum poll interval.
func (b *bench) autofollower(ctx context.Context, lc *opensearch.Client) (*opensearch.Client, error) {
	if err := b.ctl.CreateService(ctx, control.CreateServiceRequest{Name: "bench-autofollow", Plan: "business-4", Security: control.SecurityNone}); err != nil {
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
	if err := ac.PutPersistentClusterSettings(ctx, map[string]any{"plugins.replication.autofollow.fetch_poll_interval": "30s"}); err != nil {
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

// cleanUp deletes the services, the follower first (a leader with followers cannot go).
func (b *bench) cleanUp() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, name := range slices.Backward(b.created) {
		if err := b.ctl.DeleteService(ctx, name); err != nil && !errors.Is(err, control.ErrNotFound) {
			fmt.Fprintf(os.Stderr, "bench: delete service %s: %v\n", name, err)
			continue
		}
		if err := b.ctl.WaitServiceGone(ctx, name); err != nil {
			fmt.Fprintf(os.Stderr, "bench: delete service %s: %v\n", name, err)
		}
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
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(pollEvery)
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
