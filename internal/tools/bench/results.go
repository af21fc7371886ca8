package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
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
	Idle       idleCost  `json:"idle"`
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

// markdown is the results table the README shows.
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
	i := r.Idle
	fmt.Fprintf(&b, "\nP7, %d idle follower over %.0f s: %.2f leader REST requests/s per follower (the leader alone: %.2f/s), %.0f history events/hour per follower; "+
		"the whole control plane (embedded Temporal and worker) %.1f%% CPU, %.0f MB RSS.\n", i.Followers, i.WindowS, i.LeaderRequestsPerSecond, i.BaselinePerSecond,
		i.HistoryEventsPerHour, i.CPUPercent, i.RSSMB)
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

// chart draws every row's trials as a box plot, in seconds on a log scale (osccr's pickups
// are hundreds of milliseconds, autofollow's tens of seconds).
func (r results) chart(path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("osccr make bench (%s, OpenSearch %s)", r.Machine, r.OpenSearch)
	p.Y.Label.Text = "seconds (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	names := make([]string, len(r.Rows))
	for i, x := range r.Rows {
		vals := make(plotter.Values, len(x.SamplesMS))
		for j, v := range x.SamplesMS {
			vals[j] = max(v, 1) / 1000
		}
		box, err := plotter.NewBoxPlot(vg.Points(30), float64(i), vals)
		if err != nil {
			return err
		}
		p.Add(box)
		names[i] = fmt.Sprintf("%s %s\n(n=%d)", x.ID, shortName(x.Contender), x.N)
	}
	p.NominalX(names...)
	return p.Save(vg.Length(140*max(len(r.Rows), 3))*vg.Millimeter/3, 110*vg.Millimeter, path)
}

func shortName(contender string) string {
	name, _, _ := strings.Cut(contender, " (")
	return name
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

// idleCost measures P7 with the follower idle (nothing written to the leader).
func (b *bench) idleCost(ctx context.Context, lc *opensearch.Client, window time.Duration, baseline float64) (idleCost, error) {
	id := workflows.IntegrationWorkflowID("bench-leader", "bench-follower")
	history := func() (int64, error) {
		d, err := b.temporal.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			return 0, err
		}
		return d.GetWorkflowExecutionInfo().GetHistoryLength(), nil
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
	events := float64(h1 - h0)
	if h1 < h0 { // continued as new meanwhile: the new run's history is what grew
		events = float64(h1)
	}
	return idleCost{Followers: 1, WindowS: took.Seconds(), LeaderRequestsPerSecond: rate - baseline, BaselinePerSecond: baseline,
		HistoryEventsPerHour: events / took.Hours(), CPUPercent: 100 * (cpuTime() - cpu0).Seconds() / took.Seconds(), RSSMB: rssMB()}, nil
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
