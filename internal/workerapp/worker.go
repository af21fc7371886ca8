package workerapp

import (
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.uber.org/fx"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/faults"
	"github.com/osccr/osccr/workflows"
)

// WorkerModule runs the workers that execute every osccr workflow and activity: one on the
// shared task queue, and one on this machine's own queue when it runs local services.
var WorkerModule = fx.Module("worker",
	fx.Provide(newWorkers),
	fx.Invoke(runWorkers),
)

// HeartbeatThrottle is the longest an activity's heartbeat waits on this worker before it
// reaches Temporal (the SDK sends one at most every 80% of the heartbeat timeout, and its
// latest details when that interval ends). The leader watch heartbeats its live figures every
// activities.WatchPollInterval and samples both clusters every activities.SampleInterval, so
// a follower's status, read from that heartbeat, is at most about
// SampleInterval + WatchPollInterval + HeartbeatThrottle (3.5 s) old (docs/followers.md).
const HeartbeatThrottle = 2 * time.Second

// workers are the process's Temporal workers: shared polls cfg.TaskQueue (every workflow and
// activity); machine, nil without local services, polls workflows.MachineTaskQueue(cfg.Machine)
// for the activities bound to the nodes this machine runs.
type workers struct {
	shared, machine worker.Worker
}

// newWorkers registers the workflows and activities. A fatal worker error (namespace gone,
// server unreachable for too long) shuts the whole app down with exit code 1 instead of
// leaving a process that polls nothing. The fault-injection suite's kill point
// (faults.EnvKill) is installed, on both workers, only when its variable is set.
func newWorkers(c client.Client, cfg Config, acts *activities.Activities, shutdowner fx.Shutdowner, logger *slog.Logger) (workers, error) {
	kill, err := faults.FromEnv(cfg.Stdout)
	if err != nil {
		return workers{}, err
	}
	opts := worker.Options{
		Interceptors:                 kill,
		MaxHeartbeatThrottleInterval: HeartbeatThrottle,
		OnFatalError: func(err error) {
			logger.Error("worker stopped on a fatal error", "error", err)
			_ = shutdowner.Shutdown(fx.ExitCode(1))
		},
	}
	ws := workers{shared: worker.New(c, cfg.TaskQueue, opts)}
	workflows.Register(ws.shared)
	activities.Register(ws.shared, acts)
	if acts.Local != nil {
		machineOpts := opts
		machineOpts.DisableWorkflowWorker = true
		ws.machine = worker.New(c, workflows.MachineTaskQueue(cfg.Machine), machineOpts)
		activities.Register(ws.machine, acts)
	}
	return ws, nil
}

// runWorkers starts the workers with the app and, once they poll, tells the operator where
// everything is. The line starts "osccr-worker: control plane ready" only then: every start
// hook before it (the dev server, the search attributes being usable) has finished, so
// scripts can wait for it.
func runWorkers(lc fx.Lifecycle, ws workers, ep Endpoint, cfg Config) {
	lc.Append(fx.StartStopHook(ws.shared.Start, ws.shared.Stop))
	if ws.machine != nil {
		lc.Append(fx.StartStopHook(ws.machine.Start, ws.machine.Stop))
	}
	lc.Append(fx.StartHook(func() {
		line := fmt.Sprintf("osccr-worker: control plane ready: polling task queue %q on Temporal %s, namespace %q", cfg.TaskQueue, ep.HostPort, ep.Namespace)
		if ws.machine != nil {
			line += fmt.Sprintf("; machine %q (task queue %q)", cfg.Machine, workflows.MachineTaskQueue(cfg.Machine))
		}
		if ep.UIURL != "" {
			line += "; Web UI " + ep.UIURL
		}
		fmt.Fprintln(cfg.Stdout, line)
	}))
}
