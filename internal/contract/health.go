package contract

import "time"

// HealthInput asks WatchServiceHealth to watch a service's cluster.
type HealthInput struct {
	Cluster ClusterRef `json:"cluster"`
	// Known is the health the caller last acted on: the watch returns as soon as the cluster's
	// class (healthy, red, unreachable) differs from it. A zero Known returns the first look.
	Known ClusterHealth `json:"known"`
	// MaxWait ends a watch that saw no change; 0 means DefaultHealthMaxWait.
	MaxWait time.Duration `json:"max_wait,omitempty"`
}

// Timing a caller of WatchServiceHealth gives it.
const (
	// DefaultHealthMaxWait ends a health watch that saw no change, so that the workflow running
	// it gets a chance to continue as new; it is also the watch's cost in history: three events
	// per DefaultHealthMaxWait of a healthy service.
	DefaultHealthMaxWait = 10 * time.Minute
	// HealthHeartbeatTimeout is the heartbeat timeout a caller should give the health watch: it
	// heartbeats on every look.
	HealthHeartbeatTimeout = 15 * time.Second
)
