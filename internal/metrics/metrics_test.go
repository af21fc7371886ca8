package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/osccr/osccr/internal/lag"
)

func TestLagMetrics(t *testing.T) {
	tr := lag.New()
	now := time.Now()
	tr.Leader("eu", "orders", now.Add(-3*time.Second), map[string]int64{"a": 10})
	tr.Leader("eu", "orders", now.Add(-time.Second), map[string]int64{"a": 20})
	tr.Follower("eu", "orders", now, map[string]int64{"a": 10})
	m := New(tr)
	m.Pickup("eu", 300*time.Millisecond)
	want := `
# HELP osccr_follower_index_lag_operations The leader index's latest sampled checkpoint minus the follower index's.
# TYPE osccr_follower_index_lag_operations gauge
osccr_follower_index_lag_operations{follower="eu",index="a",leader="orders"} 10
# HELP osccr_pickups_total Leader indexes a follower started replicating that reached SYNCING and caught up.
# TYPE osccr_pickups_total counter
osccr_pickups_total{follower="eu"} 1
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), "osccr_follower_index_lag_operations", "osccr_pickups_total"); err != nil {
		t.Error(err)
	}
	n, err := testutil.GatherAndCount(m.Registry, "osccr_follower_index_lag_seconds", "osccr_follower_leader_reachable", "osccr_pickup_latency_seconds")
	if err != nil || n != 3 {
		t.Errorf("%d series (%v), want the lag, reachability and latency of one follower", n, err)
	}
}
