package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/workflows"
)

// results is everything one run measured.
type results struct {
	Machine    string    `json:"machine"`
	OpenSearch string    `json:"opensearch"`
	Trials     int       `json:"trials"`
	Started    time.Time `json:"started"`
	Finished   time.Time `json:"finished"`
	Rows       []row     `json:"rows"`
	// Idle is P7 with one follower; IdleMore with more (5 and 10 by default).
	Idle     idleCost   `json:"idle"`
	IdleMore []idleCost `json:"idle_more,omitempty"`
	// Parts says when each part last ran and with what sizes; Notes what each part found
	// besides its rows (figures the table has no column for).
	Parts map[string]partRun `json:"parts,omitempty"`
	Notes map[string]string  `json:"notes,omitempty"`
}

// partRun is one part's run, kept when a later run of other parts merges into the file.
type partRun struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Sizes    string    `json:"sizes,omitempty"`
}

// row is one measurement of one contender, in milliseconds.
type row struct {
	ID          string    `json:"id"`
	Measurement string    `json:"measurement"`
	Contender   string    `json:"contender"`
	N           int       `json:"n"`
	MinMS       int64     `json:"min_ms"`
	P50MS       int64     `json:"p50_ms"`
	P90MS       int64     `json:"p90_ms"`
	P99MS       int64     `json:"p99_ms"`
	MaxMS       int64     `json:"max_ms"`
	SamplesMS   []float64 `json:"samples_ms"`
}

// idleCost is P7: what one idle follower costs.
type idleCost struct {
	Followers int     `json:"followers"`
	WindowS   float64 `json:"window_s"`
	// LeaderRequestsPerSecond is the leader's REST requests a second with the follower idle,
	// less the leader's own rate without any follower (BaselinePerSecond).
	LeaderRequestsPerSecond float64 `json:"leader_requests_per_second_per_follower"`
	BaselinePerSecond       float64 `json:"leader_requests_per_second_without_follower"`
	HistoryEventsPerHour    float64 `json:"history_events_per_hour_per_follower"`
	// HistoryEventsPerHour is the integration workflows' history events, summed over the
	// followers and divided by Followers.
	// CPUPercent and RSSMB are this process's: the whole control plane (embedded Temporal and
	// the worker), idle.
	CPUPercent float64 `json:"control_plane_cpu_percent"`
	RSSMB      float64 `json:"control_plane_rss_mb"`
}

func (r *results) add(id, measurement, contender string, d []time.Duration) {
	samples := make([]float64, len(d))
	for i, x := range d {
		samples[i] = float64(x.Milliseconds())
	}
	r.Rows = append(r.Rows, row{ID: id, Measurement: measurement, Contender: contender, N: len(d),
		MinMS: percentile(d, 0).Milliseconds(), P50MS: percentile(d, 50).Milliseconds(), P90MS: percentile(d, 90).Milliseconds(),
		P99MS: percentile(d, 99).Milliseconds(), MaxMS: percentile(d, 100).Milliseconds(), SamplesMS: samples})
}

// markdown is the results table docs/benchmarks.md shows.
func (r results) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "osccr `make bench`: %s, OpenSearch %s with the CCR plugin, %s (%s to %s). Percentiles by nearest rank", r.Machine, r.OpenSearch,
		"trials one at a time, osccr's and its competitor's alternating", r.Started.Format(time.RFC3339), r.Finished.Format(time.RFC3339))
	if r.Trials < 100 {
		b.WriteString(" (with fewer than 100 trials p99 is the slowest trial)")
	}
	b.WriteString(".\n\n| | measurement | contender | n | min | p50 | p90 | p99 | max |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, x := range r.Rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d ms | %d ms | %d ms | %d ms | %d ms |\n", x.ID, x.Measurement, x.Contender, x.N, x.MinMS, x.P50MS, x.P90MS, x.P99MS, x.MaxMS)
	}
	if idles := r.idles(); len(idles) > 0 {
		b.WriteString("\nP7, the control plane's cost per idle follower (leader requests counted by the leader, _nodes/usage, less the leader alone; " +
			"CPU and RSS of the whole control plane: embedded Temporal and worker):\n\n" +
			"| idle followers | window | leader REST requests/s per follower | the leader alone | history events/hour per follower | control plane CPU | control plane RSS |\n" +
			"| --- | --- | --- | --- | --- | --- | --- |\n")
		for _, i := range idles {
			fmt.Fprintf(&b, "| %d | %.0f s | %.2f | %.2f/s | %.0f | %.1f%% | %.0f MB |\n", i.Followers, i.WindowS, i.LeaderRequestsPerSecond, i.BaselinePerSecond,
				i.HistoryEventsPerHour, i.CPUPercent, i.RSSMB)
		}
	}
	for _, id := range allParts {
		if note, ok := r.Notes[id]; ok {
			fmt.Fprintf(&b, "\n%s: %s\n", id, note)
		}
	}
	if len(r.Parts) > 0 {
		b.WriteString("\nRuns:")
		for _, id := range allParts {
			if p, ok := r.Parts[id]; ok {
				fmt.Fprintf(&b, " %s %s (%s);", id, p.Started.Format(time.RFC3339), p.Sizes)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// write prints the table and writes it, the JSON and the chart under dir.
func (r results) write(stdout io.Writer, dir string) error {
	md := r.markdown()
	fmt.Fprintln(stdout, "\n"+md)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(raw, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	return r.chart(filepath.Join(dir, "chart.png"))
}

// chart draws every row's trials as a horizontal box plot, in seconds on a log scale (osccr's
// pickups are hundreds of milliseconds, autofollow's tens of seconds), one row a line from the
// top down in the table's order, so that it stays legible however many rows there are.
func (r results) chart(path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("osccr make bench (%s, OpenSearch %s)", r.Machine, r.OpenSearch)
	p.X.Label.Text = "seconds (log scale)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	names := make([]string, len(r.Rows))
	for i, x := range r.Rows {
		vals := make(plotter.Values, len(x.SamplesMS))
		for j, v := range x.SamplesMS {
			vals[j] = max(v, 1) / 1000
		}
		at := len(r.Rows) - 1 - i // the first row on top
		box, err := plotter.NewBoxPlot(vg.Points(12), float64(at), vals)
		if err != nil {
			return err
		}
		box.Horizontal = true
		p.Add(box)
		names[at] = fmt.Sprintf("%s %s (n=%d)", x.ID, chartLabel(x), x.N)
	}
	p.NominalY(names...)
	return p.Save(200*vg.Millimeter, vg.Length(8*max(len(r.Rows), 3)+30)*vg.Millimeter, path)
}

func shortName(contender string) string {
	name, _, _ := strings.Cut(contender, " (")
	return name
}

// chartLabel names a row's box: its contender, for P6 the kind of change, for P8 the rate and
// the layout.
func chartLabel(x row) string {
	if _, kind, ok := strings.Cut(x.Measurement, "leader index "); ok && x.ID == "P6" {
		return strings.Fields(kind)[0] + ", " + shortName(x.Contender)
	}
	if x.ID == "P8" {
		// "write acknowledged ... follower, <rate>, <layout>, <duration>"
		if parts := strings.Split(x.Measurement, ", "); len(parts) >= 4 {
			rate := strings.Replace(parts[1], "one document every 50 ms", "1 doc/50 ms", 1)
			rate = strings.Replace(rate, " documents/s", " docs/s", 1)
			layout := strings.Replace(strings.Replace(parts[2], " indexes", "", 1), " index", "", 1)
			return rate + ", " + strings.Replace(layout, " shards", "", 1) + ", " + shortName(x.Contender)
		}
	}
	return shortName(x.Contender)
}

// leaderRate is the leader's REST requests a second over window, less this call's own.
func (b *bench) leaderRate(ctx context.Context, lc *opensearch.Client, window time.Duration) (float64, error) {
	before, err := lc.RESTRequests(ctx)
	if err != nil {
		return 0, err
	}
	if err := sleepCtx(ctx, window); err != nil {
		return 0, err
	}
	after, err := lc.RESTRequests(ctx)
	if err != nil {
		return 0, err
	}
	return float64(after-before-1) / window.Seconds(), nil
}

// idleCost measures P7 with followers idle (nothing written to the leader): their
// integration workflows' history events and the leader's requests, per follower.
func (b *bench) idleCost(ctx context.Context, lc *opensearch.Client, leader string, followers []string, window time.Duration, baseline float64) (idleCost, error) {
	history := func() (map[string]int64, error) {
		out := map[string]int64{}
		for _, f := range followers {
			d, err := b.temporal.DescribeWorkflowExecution(ctx, workflows.IntegrationWorkflowID(leader, f), "")
			if err != nil {
				return nil, fmt.Errorf("describe the integration of %s: %w", f, err)
			}
			out[f] = d.GetWorkflowExecutionInfo().GetHistoryLength()
		}
		return out, nil
	}
	h0, err := history()
	if err != nil {
		return idleCost{}, err
	}
	cpu0, began := cpuTime(), time.Now()
	rate, err := b.leaderRate(ctx, lc, window)
	if err != nil {
		return idleCost{}, err
	}
	took := time.Since(began)
	h1, err := history()
	if err != nil {
		return idleCost{}, err
	}
	var events float64
	for _, f := range followers {
		if h1[f] < h0[f] { // continued as new meanwhile: the new run's history is what grew
			events += float64(h1[f])
		} else {
			events += float64(h1[f] - h0[f])
		}
	}
	n := float64(len(followers))
	return idleCost{Followers: len(followers), WindowS: took.Seconds(), LeaderRequestsPerSecond: (rate - baseline) / n, BaselinePerSecond: baseline,
		HistoryEventsPerHour: events / n / took.Hours(), CPUPercent: 100 * (cpuTime() - cpu0).Seconds() / took.Seconds(), RSSMB: rssMB()}, nil
}

// idleScaling is P7: the idle cost with each follower count asked for, osccr's followers of
// the shared leader created as the count grows (bench-follower is the first).
func (b *bench) idleScaling(ctx context.Context, cfg config, res *results, lc *opensearch.Client, baseline float64) error {
	began := time.Now()
	followers := []string{"bench-follower"}
	for k, n := range cfg.followers {
		for len(followers) < n {
			name := fmt.Sprintf("bench-follower-%d", len(followers)+1)
			fmt.Fprintf(os.Stderr, "bench: P7, follower %s...\n", name)
			if _, err := b.follower(ctx, "bench-leader", name); err != nil {
				return err
			}
			followers = append(followers, name)
		}
		// The new followers' rebuilds are over (RUNNING); let their first watches settle.
		if err := sleepCtx(ctx, 10*time.Second); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench: P7, %d idle followers for %s...\n", n, cfg.idle)
		cost, err := b.idleCost(ctx, lc, "bench-leader", followers[:n], cfg.idle, baseline)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench: P7 %d followers: %.2f leader requests/s per follower, %.0f history events/hour per follower, CPU %.1f%%, RSS %.0f MB\n",
			n, cost.LeaderRequestsPerSecond, cost.HistoryEventsPerHour, cost.CPUPercent, cost.RSSMB)
		if k == 0 && n == 1 {
			res.Idle = cost
		} else {
			res.IdleMore = append(res.IdleMore, cost)
		}
	}
	res.part("P7", fmt.Sprintf("%v followers, %s each", cfg.followers, cfg.idle), began)
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssMB is this process's resident memory, from /proc (0 where there is none).
func rssMB() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(raw)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func machine() string {
	return fmt.Sprintf("%s/%s, %d cores", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
}

// idles are P7's measurements, fewest followers first.
func (r results) idles() []idleCost {
	var out []idleCost
	if r.Idle.Followers > 0 {
		out = append(out, r.Idle)
	}
	return append(out, r.IdleMore...)
}

// mergeResults merges this run's results into those already in path (when it exists): the
// rows, notes and P7 figures of the parts this run ran replace theirs, the others' stay. The
// rows keep the parts' order.
// redrawResults writes the table and the chart again from dir's results.json (after a change
// to how they are drawn), running nothing.
func redrawResults(dir string) error {
	raw, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		return err
	}
	var r results
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, "results.json"), err)
	}
	return r.write(os.Stdout, dir)
}

func mergeResults(path string, run *results, ran map[string]bool) (results, error) {
	merged := *run
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return merged, nil
	case err != nil:
		return results{}, err
	}
	var old results
	if err := json.Unmarshal(raw, &old); err != nil {
		return results{}, fmt.Errorf("%s: %w (move it away to start afresh)", path, err)
	}
	merged = old
	merged.Machine, merged.OpenSearch = run.Machine, run.OpenSearch
	if ran["P1"] || ran["P5"] {
		merged.Trials = run.Trials
	}
	if old.Started.IsZero() || run.Started.Before(old.Started) {
		merged.Started = run.Started
	}
	if run.Finished.After(old.Finished) {
		merged.Finished = run.Finished
	}
	merged.Rows = slices.DeleteFunc(slices.Clone(old.Rows), func(x row) bool { return ran[x.ID] })
	merged.Rows = append(merged.Rows, run.Rows...)
	slices.SortStableFunc(merged.Rows, func(a, b row) int {
		return slices.Index(allParts, a.ID) - slices.Index(allParts, b.ID)
	})
	if ran["P7"] {
		merged.Idle, merged.IdleMore = run.Idle, run.IdleMore
	}
	merged.Parts, merged.Notes = maps.Clone(old.Parts), maps.Clone(old.Notes)
	if merged.Parts == nil {
		merged.Parts = map[string]partRun{}
	}
	if merged.Notes == nil {
		merged.Notes = map[string]string{}
	}
	for id := range ran {
		delete(merged.Notes, id)
	}
	maps.Copy(merged.Parts, run.Parts)
	maps.Copy(merged.Notes, run.Notes)
	return merged, nil
}

// part records when a part ran and with what sizes.
func (r *results) part(id, sizes string, started time.Time) {
	if r.Parts == nil {
		r.Parts = map[string]partRun{}
	}
	r.Parts[id] = partRun{Started: started.UTC(), Finished: time.Now().UTC(), Sizes: sizes}
}

// note sets a part's note.
func (r *results) note(id, format string, args ...any) {
	if r.Notes == nil {
		r.Notes = map[string]string{}
	}
	r.Notes[id] = fmt.Sprintf(format, args...)
}
