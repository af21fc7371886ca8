package workerapp

import (
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.uber.org/fx"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/faults"
	"github.com/osccr/osccr/workflows"
)

// WorkerModule runs the worker that executes every osccr workflow and activity.
var WorkerModule = fx.Module("worker",
	fx.Provide(newWorker),
	fx.Invoke(runWorker),
)

// newWorker registers the workflows and activities. A fatal worker error (namespace gone,
// server unreachable for too long) shuts the whole app down with exit code 1 instead of
// leaving a process that polls nothing. The fault-injection suite's kill point
// (faults.EnvKill) is installed only when its variable is set.
func newWorker(c client.Client, cfg Config, acts *activities.Activities, shutdowner fx.Shutdowner, logger *slog.Logger) (worker.Worker, error) {
	kill, err := faults.FromEnv(cfg.Stdout)
	if err != nil {
		return nil, err
	}
	w := worker.New(c, cfg.TaskQueue, worker.Options{
		Interceptors: kill,
		OnFatalError: func(err error) {
			logger.Error("worker stopped on a fatal error", "error", err)
			_ = shutdowner.Shutdown(fx.ExitCode(1))
		},
	})
	workflows.Register(w)
	activities.Register(w, acts)
	return w, nil
}

// runWorker starts the worker with the app and, once it polls, tells the operator where
// everything is. The line starts "osccr-worker: control plane ready" only then: every start
// hook before it (the dev server, the search attributes being usable) has finished, so
// scripts can wait for it.
func runWorker(lc fx.Lifecycle, w worker.Worker, ep Endpoint, cfg Config) {
	lc.Append(fx.StartStopHook(w.Start, w.Stop))
	lc.Append(fx.StartHook(func() {
		line := fmt.Sprintf("osccr-worker: control plane ready: polling task queue %q on Temporal %s, namespace %q", cfg.TaskQueue, ep.HostPort, ep.Namespace)
		if ep.UIURL != "" {
			line += "; Web UI " + ep.UIURL
		}
		fmt.Fprintln(cfg.Stdout, line)
	}))
}
