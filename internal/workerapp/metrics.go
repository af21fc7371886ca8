package workerapp

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/fx"

	"github.com/osccr/osccr/activities"
)

// DefaultMetricsListen is where osccr-worker serves /metrics unless told otherwise.
const DefaultMetricsListen = "127.0.0.1:9464"

// MetricsModule serves the worker's Prometheus metrics at http://<Config.MetricsListen>/metrics
// (nothing when MetricsListen is empty).
var MetricsModule = fx.Module("metrics",
	fx.Invoke(serveMetrics),
)

func serveMetrics(lc fx.Lifecycle, cfg Config, a *activities.Activities, logger *slog.Logger) {
	if cfg.MetricsListen == "" || a.Metrics == nil {
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(a.Metrics.Registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", cfg.MetricsListen)
			if err != nil {
				// Metrics are not the worker's job: a second worker on a machine (its port taken)
				// still runs, and says so.
				logger.Warn("metrics not served: give this worker its own --metrics-listen", "listen", cfg.MetricsListen, "error", err)
				return nil
			}
			logger.Info("metrics", "url", "http://"+ln.Addr().String()+"/metrics")
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					logger.Error("metrics server", "error", err)
				}
			}()
			return nil
		},
		OnStop: srv.Shutdown,
	})
}
