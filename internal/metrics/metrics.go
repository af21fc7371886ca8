// Package metrics is the worker's Prometheus endpoint: each follower's lag in seconds and in
// operations per index, whether its leader answers, and how quickly new leader indexes are
// picked up. The figures come from what the worker's own activities see (the leader watches'
// checkpoint samples, the waits for SYNCING), so a worker reports the followers it watches.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/osccr/osccr/internal/lag"
)

// Metrics holds the worker's registry and the instruments the activities record into.
type Metrics struct {
	Registry *prometheus.Registry
	pickups  *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New registers the lag of every follower tracker holds, the pickups, and the process's own
// figures (CPU, memory) on a fresh registry.
func New(tracker *lag.Tracker) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		pickups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osccr_pickups_total",
			Help: "Leader indexes a follower started replicating that reached SYNCING and caught up.",
		}, []string{"follower"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "osccr_pickup_latency_seconds",
			Help:    "From a leader index's creation to its follower index SYNCING and caught up (indexes created while the follower was RUNNING).",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300},
		}, []string{"follower"}),
	}
	m.Registry.MustRegister(m.pickups, m.latency, &lagCollector{tracker: tracker},
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	return m
}

// Pickup records that a follower index reached SYNCING and caught up, latency after its leader
// index was created.
func (m *Metrics) Pickup(follower string, latency time.Duration) {
	if m == nil {
		return
	}
	m.pickups.WithLabelValues(follower).Inc()
	m.latency.WithLabelValues(follower).Observe(latency.Seconds())
}

var (
	lagSecondsDesc = prometheus.NewDesc("osccr_follower_index_lag_seconds",
		"How long ago the leader reached the checkpoint the follower index has now reached (0: caught up; leader unreachable: time since last contact).",
		[]string{"follower", "leader", "index"}, nil)
	lagOpsDesc = prometheus.NewDesc("osccr_follower_index_lag_operations",
		"The leader index's latest sampled checkpoint minus the follower index's.",
		[]string{"follower", "leader", "index"}, nil)
	followerLagDesc = prometheus.NewDesc("osccr_follower_lag_seconds",
		"The follower's worst index lag in seconds.", []string{"follower", "leader"}, nil)
	reachableDesc = prometheus.NewDesc("osccr_follower_leader_reachable",
		"1 when the follower's leader answered the last checkpoint sample, else 0.", []string{"follower", "leader"}, nil)
	contactDesc = prometheus.NewDesc("osccr_follower_leader_last_contact_timestamp_seconds",
		"When the follower's leader last answered.", []string{"follower", "leader"}, nil)
)

// lagCollector reads the tracker at each scrape.
type lagCollector struct{ tracker *lag.Tracker }

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{lagSecondsDesc, lagOpsDesc, followerLagDesc, reachableDesc, contactDesc} {
		ch <- d
	}
}

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	for name, f := range c.tracker.All(time.Now()) {
		for index, ix := range f.Indexes {
			ch <- prometheus.MustNewConstMetric(lagSecondsDesc, prometheus.GaugeValue, ix.Seconds, name, f.Leader, index)
			ch <- prometheus.MustNewConstMetric(lagOpsDesc, prometheus.GaugeValue, float64(ix.Operations), name, f.Leader, index)
		}
		reachable := 1.0
		if f.LeaderUnreachable {
			reachable = 0
		}
		ch <- prometheus.MustNewConstMetric(followerLagDesc, prometheus.GaugeValue, f.Seconds, name, f.Leader)
		ch <- prometheus.MustNewConstMetric(reachableDesc, prometheus.GaugeValue, reachable, name, f.Leader)
		ch <- prometheus.MustNewConstMetric(contactDesc, prometheus.GaugeValue, float64(f.LastContact.UnixNano())/1e9, name, f.Leader)
	}
}
