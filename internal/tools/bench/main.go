// Command bench measures how fast a RUNNING follower follows its leader, through the real
// integration workflow and the real CCR plugin:
//
//   - new-index pickup: a leader index is created; how long until the follower index exists and
//     the plugin reports it SYNCING (timed from the create request, and from its answer);
//   - deletion propagation: a leader index is deleted; how long until the follower index is gone
//     (timed from the delete request).
//
// It starts its own control plane (embedded Temporal and worker, as `osccr-worker --dev` does)
// and two local services (a leader and its follower), runs the trials one after another, prints
// a table of percentiles, and removes everything. Without the CCR plugin it fails, saying so.
//
//	go run ./internal/tools/bench [-trials 20]
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
	"text/tabwriter"
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
	trials := flag.Int("trials", 20, "trials of each measurement")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *trials); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, trials int) error {
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

	b := &bench{ctl: ctl}
	defer b.cleanUp()
	lc, fc, err := b.services(ctx)
	if err != nil {
		return err
	}

	var created, acked, deleted []time.Duration
	names := make([]string, trials)
	for i := range names {
		names[i] = fmt.Sprintf("bench-%03d", i)
		fromRequest, fromAck, err := pickup(ctx, lc, fc, names[i])
		if err != nil {
			return fmt.Errorf("trial %d: %w%s", i+1, err, b.diagnosis(ctx, fc, names[i]))
		}
		created, acked = append(created, fromRequest), append(acked, fromAck)
	}
	for i, name := range names {
		took, err := deletion(ctx, lc, fc, name)
		if err != nil {
			return fmt.Errorf("trial %d: %w%s", i+1, err, b.diagnosis(ctx, fc, name))
		}
		deleted = append(deleted, took)
	}

	fmt.Printf("\nosccr bench: %d trials each, one at a time, through IntegrationWorkflow and the CCR plugin (OpenSearch %s, this machine)\n\n", trials, version(dist))
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "measurement\tn\tmin\tp50\tp90\tp99\tmax\t")
	row := func(name string, d []time.Duration) {
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", name, len(d), ms(percentile(d, 0)), ms(percentile(d, 50)), ms(percentile(d, 90)), ms(percentile(d, 99)), ms(percentile(d, 100)))
	}
	row("new index: create request -> follower SYNCING", created)
	row("new index: create answered -> follower SYNCING", acked)
	row("deleted index: delete request -> follower index gone", deleted)
	if err := w.Flush(); err != nil {
		return err
	}
	if trials < 100 {
		fmt.Printf("\n(percentiles by nearest rank: with fewer than 100 trials p99 is the slowest trial)\n")
	}
	return nil
}

// bench holds the services to remove at the end.
type bench struct {
	ctl     *control.Control
	created []string // services, in creation order
}

// services creates the leader and a RUNNING follower of it.
func (b *bench) services(ctx context.Context) (lc, fc *opensearch.Client, err error) {
	if err := b.ctl.CreateService(ctx, control.CreateServiceRequest{Name: "bench-leader", Plan: "business-4"}); err != nil {
		return nil, nil, err
	}
	b.created = append(b.created, "bench-leader")
	leader, err := b.ctl.WaitService(ctx, "bench-leader", nil)
	if err != nil {
		return nil, nil, err
	}
	if err := b.ctl.CreateFollower(ctx, control.CreateFollowerRequest{Leader: "bench-leader", Name: "bench-follower"}); err != nil {
		return nil, nil, err
	}
	b.created = append(b.created, "bench-follower")
	follower, err := b.ctl.WaitService(ctx, "bench-follower", nil)
	if err != nil {
		return nil, nil, err
	}
	if lc, err = opensearch.New(opensearch.Config{URLs: []string{leader.Endpoints.HTTPURL}}); err != nil {
		return nil, nil, err
	}
	if fc, err = opensearch.New(opensearch.Config{URLs: []string{follower.Endpoints.HTTPURL}, Timeout: 5 * time.Second}); err != nil {
		return nil, nil, err
	}
	return lc, fc, nil
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

// pickup creates a leader index and times how long until its follower index is SYNCING.
func pickup(ctx context.Context, lc, fc *opensearch.Client, name string) (fromRequest, fromAck time.Duration, err error) {
	requested := time.Now()
	if err := lc.CreateIndex(ctx, name, map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}}); err != nil {
		return 0, 0, err
	}
	acked := time.Now()
	err = waitFor(ctx, 2*time.Minute, func() bool {
		st, err := fc.ReplicationStatus(ctx, name)
		return err == nil && st.Status == opensearch.StatusSyncing
	})
	if err != nil {
		return 0, 0, fmt.Errorf("follower index %s not SYNCING: %w", name, err)
	}
	now := time.Now()
	return now.Sub(requested), now.Sub(acked), nil
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
