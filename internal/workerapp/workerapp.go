// Package workerapp assembles the osccr worker process from fx modules: where Temporal is (an
// embedded dev server or a remote cluster), the Temporal client, the activities' dependencies
// and the worker. worker/main.go only turns flags into a Config and calls Run; tests build the
// same graph with fxtest.
package workerapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/osccr/osccr/internal/devserver"
	"github.com/osccr/osccr/internal/temporalconn"
	"github.com/osccr/osccr/workflows"
)

// Defaults of Config, shared with the osccr-worker flags.
const (
	DefaultStateDir        = "./.state"
	DefaultTemporalAddress = "127.0.0.1:7233"
)

// Config is what the worker process is told on its command line.
type Config struct {
	// Dev runs an embedded Temporal dev server (and Web UI) instead of dialing TemporalAddress.
	Dev bool
	// StateDir holds the dev server's database (dev only) and the local services' nodes.
	StateDir string
	// PKIDir holds the installation's certificate authority, which signs every secured local
	// service's certificates (created on first use); "" means <StateDir>/pki. Every worker of
	// one installation that runs local services must be given the same directory.
	PKIDir string
	// TemporalAddress is the frontend of an existing Temporal (ignored with Dev).
	TemporalAddress string
	// Connection is how to reach TemporalAddress: TLS, client certificate, API key (its
	// Address and Namespace are ignored: TemporalAddress and Namespace say them). Ignored with
	// Dev, whose worker uses the dev server's own credentials.
	Connection temporalconn.Options
	// TemporalDB is the dev server's database: "" for SQLite in StateDir, or
	// postgres://USER@HOST:PORT/DB (dev only); TemporalDBPasswordFile holds its password.
	TemporalDB, TemporalDBPasswordFile string
	// TemporalTLS serves the dev server's frontend over TLS, requiring client certificates
	// when its ClientCAFile is set (dev only).
	TemporalTLS *devserver.TLSConfig
	// TemporalAPIKeysFile makes the dev server require one of the API keys it lists (dev only;
	// needs TemporalTLS).
	TemporalAPIKeysFile string
	// Namespace the worker polls; the dev server creates it.
	Namespace string
	// TemporalPort is the dev server's frontend port; 0 picks a free port (dev only).
	TemporalPort int
	// UIPort is the dev server's Web UI port; 0 disables the UI (dev only).
	UIPort int
	// TaskQueue the worker polls.
	TaskQueue string
	// Machine names this worker's machine (default: the host name). Its worker also polls the
	// machine's own task queue, where the activities bound to the local nodes it runs go; every
	// worker of one Temporal cluster that runs local services needs its own name.
	Machine string
	// MetricsListen is host:port of the Prometheus endpoint (/metrics); "" serves none.
	MetricsListen string
	// TrustedSecretDirs are the directories a registered cluster's secret files may be in
	// (activities.SecretPolicy); none means <StateDir>/secrets, created 0700 if absent.
	TrustedSecretDirs []string
	// SecretEnvPrefix is the prefix of the variables a password_env may name; "" means
	// activities.DefaultSecretEnvPrefix.
	SecretEnvPrefix string
	// Logger is for the process's own logs, the SDK's and (warnings only) the dev server's.
	Logger *slog.Logger
	// Stdout receives the one-line "where is everything" notice at start.
	Stdout io.Writer
}

func (c Config) withDefaults() Config {
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if c.TemporalAddress == "" {
		c.TemporalAddress = DefaultTemporalAddress
	}
	if c.Namespace == "" {
		c.Namespace = devserver.DefaultNamespace
	}
	if c.TaskQueue == "" {
		c.TaskQueue = workflows.TaskQueue
	}
	if c.Machine == "" {
		c.Machine = DefaultMachine()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	return c
}

// DefaultMachine is the machine name a worker takes when given none: the host name.
func DefaultMachine() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}

// Endpoint is the Temporal the worker talks to, known before anything starts.
type Endpoint struct {
	HostPort  string
	Namespace string
	// UIURL is the Web UI of the dev server; "" for a remote Temporal or a disabled UI.
	UIURL string
	// Connection holds the credentials for HostPort: the operator's for a remote Temporal;
	// for the dev server, TLS is filled once it has started (its in-process credential).
	Connection temporalconn.Options
	// devServer is the dev server when there is one; its credentials are known only once it
	// has started, and the client connects lazily, after that.
	devServer **devserver.Server
}

// WorkerIdentity is the identity the worker presents to Temporal: its machine and process,
// which Temporal records on every workflow and activity task it runs.
func WorkerIdentity(machine string) string { return WorkerIdentityOf(machine, os.Getpid()) }

// WorkerIdentityOf is the identity of the worker process pid on machine.
func WorkerIdentityOf(machine string, pid int) string {
	return fmt.Sprintf("osccr-worker@%s[%d]", machine, pid)
}

// Module is the whole worker process as one fx option:
//
//   - where Temporal is: DevServerModule with cfg.Dev, else RemoteTemporalModule
//   - ClientModule: the Temporal client
//   - ActivitiesModule: *activities.Activities and its dependencies
//   - WorkerModule: the worker polling cfg.TaskQueue
//   - MetricsModule: /metrics on cfg.MetricsListen
func Module(cfg Config) fx.Option {
	cfg = cfg.withDefaults()
	temporal := RemoteTemporalModule
	if cfg.Dev {
		temporal = DevServerModule
	}
	return fx.Options(
		fx.Supply(cfg, cfg.Logger),
		temporal,
		ClientModule,
		ActivitiesModule,
		WorkerModule,
		MetricsModule,
	)
}

// New builds the application with fx's own event log sent to cfg.Logger at debug level.
func New(cfg Config, extra ...fx.Option) *fx.App {
	return fx.New(
		Module(cfg),
		fx.WithLogger(func(l *slog.Logger) fxevent.Logger {
			fl := &fxevent.SlogLogger{Logger: l}
			fl.UseLogLevel(slog.LevelDebug)
			fl.UseErrorLevel(slog.LevelDebug) // Run returns the error; logging it too says it thrice
			return fl
		}),
		fx.StartTimeout(time.Minute),
		fx.StopTimeout(30*time.Second),
		fx.Options(extra...),
	)
}

// Run starts the worker and blocks until ctx is done, SIGINT/SIGTERM arrives or the worker
// fails, then stops everything in reverse order. A worker failure is returned as an error.
func Run(ctx context.Context, cfg Config) error {
	app := New(cfg)
	if err := app.Err(); err != nil {
		return err
	}
	// Start is deliberately not cancelled by ctx: fx abandons an interrupted start without
	// rolling back the hooks that already ran, which would leave the dev server running. A
	// signal that arrives during start is acted on as soon as start returns.
	startCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), app.StartTimeout())
	err := app.Start(startCtx)
	cancel()
	if err != nil {
		return err
	}

	var exitCode int
	select {
	case <-ctx.Done():
	case sig := <-app.Wait():
		exitCode = sig.ExitCode
	}

	stopCtx, cancel := context.WithTimeout(context.Background(), app.StopTimeout())
	defer cancel()
	stopErr := app.Stop(stopCtx)
	if exitCode != 0 {
		return errors.Join(fmt.Errorf("worker stopped after a fatal error (exit code %d)", exitCode), stopErr)
	}
	return stopErr
}
