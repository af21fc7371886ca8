package workflows

// The options of the activities the workflows run: how long a call may take, how it is retried,
// and when a silent worker counts as lost.

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// withIO sets activity options for OpenSearch I/O: retries with backoff for transient failures
// (non-retryable application errors stop at once), and a heartbeat timeout for the activities
// that wait.
func withIO(ctx workflow.Context, startToClose, heartbeat time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: startToClose,
		HeartbeatTimeout:    heartbeat,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    500 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
			MaximumAttempts:    10,
		},
	})
}

// callOpts are the options of an activity that makes one OpenSearch call; waitOpts those of
// one that waits (heartbeating) for a cluster to get somewhere. A call does not heartbeat, so
// its start-to-close timeout is how long a call lost with a crashed worker holds things up:
// short, since every such call is idempotent and simply runs again.
func callOpts(ctx workflow.Context) workflow.Context { return withIO(ctx, 20*time.Second, 0) }
func waitOpts(ctx workflow.Context) workflow.Context {
	return withIO(ctx, 30*time.Minute, 30*time.Second)
}
