// Command osccr-worker runs osccr's Temporal worker: every workflow and activity of the
// control plane. With --dev it also runs a Temporal dev server and Web UI in-process, persisted
// under --state-dir, so nothing else needs to be installed.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/devserver"
	"github.com/osccr/osccr/internal/temporalconn"
	"github.com/osccr/osccr/internal/workerapp"
	"github.com/osccr/osccr/workflows"
)

func main() {
	app := &cli.App{
		Name:  "osccr-worker",
		Usage: "run the osccr Temporal worker (workflows and activities)",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "dev", EnvVars: []string{"OSCCR_DEV"},
				Usage: "run an embedded Temporal dev server and Web UI instead of dialing --temporal-address"},
			&cli.StringFlag{Name: "state-dir", Value: workerapp.DefaultStateDir, EnvVars: []string{"OSCCR_STATE_DIR"},
				Usage: "directory of the local services' nodes and, with --dev, of the dev server's database"},
			&cli.StringFlag{Name: "pki-dir", EnvVars: []string{"OSCCR_PKI_DIR"},
				Usage: "directory of the installation's certificate authority for secured local services (default: <state-dir>/pki); give every worker of one installation the same one"},
			&cli.StringFlag{Name: "temporal-address", Value: workerapp.DefaultTemporalAddress, EnvVars: []string{"OSCCR_TEMPORAL_ADDRESS"},
				Usage: "host:port of an existing Temporal frontend (ignored with --dev)"},
			&cli.StringFlag{Name: "namespace", Value: devserver.DefaultNamespace, EnvVars: []string{"OSCCR_NAMESPACE"},
				Usage: "Temporal namespace"},
			&cli.IntFlag{Name: "temporal-port", Value: devserver.DefaultFrontendPort, EnvVars: []string{"OSCCR_TEMPORAL_PORT"},
				Usage: "dev server frontend port (--dev only)"},
			&cli.IntFlag{Name: "ui-port", Value: devserver.DefaultUIPort, EnvVars: []string{"OSCCR_UI_PORT"},
				Usage: "dev server Web UI port, 0 disables the UI (--dev only)"},
			&cli.StringFlag{Name: "task-queue", Value: workflows.TaskQueue, EnvVars: []string{"OSCCR_TASK_QUEUE"},
				Usage: "Temporal task queue to poll"},
			&cli.StringFlag{Name: "machine", Value: workerapp.DefaultMachine(), EnvVars: []string{"OSCCR_MACHINE"},
				Usage: "this machine's name: local services placed here are recycled, replanned and deleted through its own task queue; give each worker sharing a Temporal cluster its own"},
			&cli.StringFlag{Name: "metrics-listen", Value: workerapp.DefaultMetricsListen, EnvVars: []string{"OSCCR_METRICS_LISTEN"},
				Usage: "host:port of the Prometheus endpoint /metrics (followers' lag in seconds and operations, pickups); \"\" serves none"},
			&cli.StringSliceFlag{Name: "trusted-secret-dir", EnvVars: []string{"OSCCR_TRUSTED_SECRET_DIRS"},
				Usage: "a directory whose files a registered cluster's password_file, replication_password_file or key_file may name (repeat for more; default: <state-dir>/secrets); docs/security.md"},
			&cli.StringFlag{Name: "secret-env-prefix", Value: activities.DefaultSecretEnvPrefix, EnvVars: []string{"OSCCR_SECRET_ENV_PREFIX"},
				Usage: "the prefix of the environment variables a password_env may name"},
			&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"OSCCR_LOG_LEVEL"},
				Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "temporal-db", EnvVars: []string{"OSCCR_TEMPORAL_DB"},
				Usage: "the dev server's database: postgres://USER@HOST:PORT/DB[?sslmode=...] (DB and DB_visibility get their schema on first start); default SQLite in --state-dir (--dev only)"},
			&cli.StringFlag{Name: "temporal-db-password-file", EnvVars: []string{"OSCCR_TEMPORAL_DB_PASSWORD_FILE"},
				Usage: "file holding the PostgreSQL password of --temporal-db (--dev only)"},
			&cli.StringFlag{Name: "dev-tls-cert", EnvVars: []string{"OSCCR_DEV_TLS_CERT"},
				Usage: "PEM certificate the dev server's frontend serves TLS with (--dev only)"},
			&cli.StringFlag{Name: "dev-tls-key", EnvVars: []string{"OSCCR_DEV_TLS_KEY"},
				Usage: "PEM key of --dev-tls-cert (--dev only)"},
			&cli.StringFlag{Name: "dev-tls-client-ca", EnvVars: []string{"OSCCR_DEV_TLS_CLIENT_CA"},
				Usage: "require clients of the dev server to present a certificate signed by a CA in this PEM file (mTLS; --dev only)"},
			&cli.StringFlag{Name: "dev-api-keys-file", EnvVars: []string{"OSCCR_DEV_API_KEYS_FILE"},
				Usage: "require every client of the dev server to send one of the API keys in this file, one per line as KEY or NAME KEY (needs --dev-tls-cert; --dev only)"},
		}, temporalconn.Flags()...),
		Action: run,
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "osccr-worker:", err)
		os.Exit(1)
	}
}

func run(c *cli.Context) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if c.Bool("dev") {
		for _, name := range []string{"temporal-address", "temporal-tls", "temporal-tls-ca", "temporal-tls-cert", "temporal-tls-key", "temporal-tls-server-name", "temporal-api-key-file", "temporal-api-key-env"} {
			if c.IsSet(name) {
				logger.Warn("--" + name + " is ignored with --dev: the worker uses its own dev server")
			}
		}
	}
	var devTLS *devserver.TLSConfig
	if c.String("dev-tls-cert") != "" || c.String("dev-tls-key") != "" || c.String("dev-tls-client-ca") != "" {
		devTLS = &devserver.TLSConfig{CertFile: c.String("dev-tls-cert"), KeyFile: c.String("dev-tls-key"), ClientCAFile: c.String("dev-tls-client-ca")}
		if devTLS.CertFile == "" || devTLS.KeyFile == "" {
			return fmt.Errorf("--dev-tls-cert and --dev-tls-key are both needed to serve TLS")
		}
	}

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal the default action is back: a second Ctrl-C kills at once.
	context.AfterFunc(ctx, stop)
	return workerapp.Run(ctx, workerapp.Config{
		Dev:             c.Bool("dev"),
		StateDir:        c.String("state-dir"),
		PKIDir:          c.String("pki-dir"),
		TemporalAddress: c.String("temporal-address"),
		Connection:      temporalconn.FromFlags(c, ""),

		TemporalDB:             c.String("temporal-db"),
		TemporalDBPasswordFile: c.String("temporal-db-password-file"),
		TemporalTLS:            devTLS,
		TemporalAPIKeysFile:    c.String("dev-api-keys-file"),

		Namespace:         c.String("namespace"),
		TemporalPort:      c.Int("temporal-port"),
		UIPort:            c.Int("ui-port"),
		TaskQueue:         c.String("task-queue"),
		Machine:           c.String("machine"),
		MetricsListen:     c.String("metrics-listen"),
		TrustedSecretDirs: c.StringSlice("trusted-secret-dir"),
		SecretEnvPrefix:   c.String("secret-env-prefix"),
		Logger:            logger,
		Stdout:            os.Stdout,
	})
}
