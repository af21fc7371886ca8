package workerapp

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.uber.org/fx"

	"github.com/osccr/osccr/internal/devserver"
	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/searchattr"
	"github.com/osccr/osccr/workflows"
)

// RemoteTemporalModule points the worker at an existing Temporal (Config.TemporalAddress) and
// makes sure its namespace has osccr's search attributes before the worker starts.
var RemoteTemporalModule = fx.Module("temporal-remote",
	fx.Provide(func(cfg Config) Endpoint {
		return Endpoint{HostPort: cfg.TemporalAddress, Namespace: cfg.Namespace}
	}),
	fx.Invoke(registerSearchAttributes),
)

// registerSearchAttributes adds osccr's search attributes to an existing Temporal's namespace
// at start. Without them starting any osccr workflow fails, so a worker that may not add them
// says how to add them by hand instead of starting.
func registerSearchAttributes(lc fx.Lifecycle, c client.Client, ep Endpoint) {
	lc.Append(fx.StartHook(func(ctx context.Context) error {
		want := workflows.SearchAttributes()
		if err := searchattr.Ensure(ctx, c.OperatorService(), ep.Namespace, want); err != nil {
			var manual []string
			for _, name := range slices.Sorted(maps.Keys(want)) {
				manual = append(manual, fmt.Sprintf("temporal operator search-attribute create --namespace %s --name %s --type Keyword", ep.Namespace, name))
			}
			return fmt.Errorf("%w; an admin can add them with:\n  %s", err, strings.Join(manual, "\n  "))
		}
		// Ready only once requests naming them are accepted (osccr's first requests do).
		return searchattr.AwaitUsable(ctx, c.WorkflowService(), ep.Namespace, want)
	}))
}

// DevServerModule runs the embedded Temporal dev server for the life of the app.
var DevServerModule = fx.Module("devserver",
	fx.Provide(newDevServer),
)

// ClientModule provides the Temporal client. It connects on first use, so with the dev server
// it never dials before the server's start hook has run.
var ClientModule = fx.Module("temporal-client",
	fx.Provide(newClient),
)

// newDevServer settles the dev server's addresses now (a zero frontend port becomes a free
// one) so the client can be built before anything starts, and starts the server in the
// lifecycle, ahead of every hook that depends on its Endpoint.
func newDevServer(lc fx.Lifecycle, cfg Config, logger *slog.Logger) (Endpoint, error) {
	host := devserver.DefaultHost
	port := cfg.TemporalPort
	if port == 0 {
		free, err := localnode.FreePort() // on 127.0.0.1, which is devserver.DefaultHost
		if err != nil {
			return Endpoint{}, err
		}
		port = free
	}
	dcfg := devserver.Config{
		StateDir:         cfg.StateDir,
		Host:             host,
		FrontendPort:     port,
		UIPort:           cfg.UIPort,
		Namespace:        cfg.Namespace,
		SearchAttributes: workflows.SearchAttributes(),
		Logger:           logger.With("component", "temporal-dev-server"),
	}

	var srv *devserver.Server
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if err := checkStateDir(cfg.StateDir); err != nil {
				return err
			}
			var err error
			srv, err = devserver.Start(ctx, dcfg)
			return err
		},
		OnStop: func(context.Context) error {
			if srv == nil {
				return nil
			}
			return srv.Stop()
		},
	})

	ep := Endpoint{HostPort: net.JoinHostPort(host, strconv.Itoa(port)), Namespace: cfg.Namespace}
	if cfg.UIPort > 0 {
		ep.UIURL = "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.UIPort))
	}
	return ep, nil
}

func newClient(lc fx.Lifecycle, ep Endpoint, logger *slog.Logger) (client.Client, error) {
	c, err := client.NewLazyClient(client.Options{
		HostPort:  ep.HostPort,
		Namespace: ep.Namespace,
		Logger:    sdklog.NewStructuredLogger(logger),
	})
	if err != nil {
		return nil, fmt.Errorf("temporal client for %s: %w", ep.HostPort, err)
	}
	lc.Append(fx.StopHook(c.Close))
	return c, nil
}
