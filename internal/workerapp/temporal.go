package workerapp

import (
	"context"
	"crypto/tls"
	"errors"
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
	"github.com/osccr/osccr/internal/temporalconn"
	"github.com/osccr/osccr/workflows"
)

// RemoteTemporalModule points the worker at an existing Temporal (Config.TemporalAddress) and
// makes sure its namespace has osccr's search attributes before the worker starts.
var RemoteTemporalModule = fx.Module("temporal-remote",
	fx.Provide(func(cfg Config) (Endpoint, error) {
		conn := cfg.Connection
		conn.Address, conn.Namespace = cfg.TemporalAddress, cfg.Namespace
		if err := conn.Validate(); err != nil {
			return Endpoint{}, fmt.Errorf("temporal connection: %w", err)
		}
		return Endpoint{HostPort: cfg.TemporalAddress, Namespace: cfg.Namespace, Connection: conn}, nil
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

		Database:             cfg.TemporalDB,
		DatabasePasswordFile: cfg.TemporalDBPasswordFile,
		TLS:                  cfg.TemporalTLS,
		APIKeysFile:          cfg.TemporalAPIKeysFile,
	}

	srv := new(*devserver.Server)
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if err := checkStateDir(cfg.StateDir); err != nil {
				return err
			}
			var err error
			*srv, err = devserver.Start(ctx, dcfg)
			return err
		},
		OnStop: func(context.Context) error {
			if *srv == nil {
				return nil
			}
			return (*srv).Stop()
		},
	})

	hostPort := net.JoinHostPort(host, strconv.Itoa(port))
	ep := Endpoint{HostPort: hostPort, Namespace: cfg.Namespace, devServer: srv,
		Connection: temporalconn.Options{Address: hostPort, Namespace: cfg.Namespace}}
	if cfg.UIPort > 0 {
		ep.UIURL = "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.UIPort))
	}
	return ep, nil
}

// newClient builds the lazy client from the endpoint's connection options. For the dev server
// the TLS settings exist only once it has started, so the TLS config handed to the SDK defers
// to the server's at the first handshake, which comes after the start hook.
func newClient(lc fx.Lifecycle, ep Endpoint, cfg Config, logger *slog.Logger) (client.Client, error) {
	conn := ep.Connection
	conn.Identity = WorkerIdentity(cfg.Machine)
	opts, err := conn.ClientOptions()
	if err != nil {
		return nil, err
	}
	if ep.devServer != nil && cfg.TemporalTLS != nil {
		srv := ep.devServer
		opts.ConnectionOptions.TLS = deferredTLS(func() *tls.Config { return (*srv).ClientTLS() })
	}
	opts.Logger = sdklog.NewStructuredLogger(logger)
	c, err := client.NewLazyClient(opts)
	if err != nil {
		return nil, fmt.Errorf("temporal client for %s: %w", ep.HostPort, err)
	}
	lc.Append(fx.StopHook(c.Close))
	return c, nil
}

// deferredTLS is a TLS client config whose certificate and server check are those of get()'s
// config, looked up at each handshake.
func deferredTLS(get func() *tls.Config) *tls.Config {
	errNotStarted := errors.New("the Temporal dev server has not started")
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// VerifyConnection below checks the frontend's certificate (the dev server pins it).
		InsecureSkipVerify: true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c := get()
			if c == nil || len(c.Certificates) == 0 {
				return nil, errNotStarted
			}
			return &c.Certificates[0], nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			c := get()
			if c == nil || c.VerifyConnection == nil {
				return errNotStarted
			}
			return c.VerifyConnection(cs)
		},
	}
}
