package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/osccr/osccr/internal/access"
	"github.com/osccr/osccr/internal/api"
	"github.com/osccr/osccr/internal/console"
	"github.com/osccr/osccr/internal/control"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve the web console and the HTTP API (the same use cases as this CLI) until interrupted",
		UsageText: "osccr serve --tokens /etc/osccr/tokens --listen 127.0.0.1:8080 (docs/security.md)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", EnvVars: []string{"OSCCR_API_LISTEN"}, Usage: "address to listen on"},
			&cli.StringFlag{Name: "tokens", EnvVars: []string{"OSCCR_API_TOKENS"},
				Usage: "file of named tokens with roles, one `NAME ROLE sha256:HEX` a line (osccr token new makes one); re-read when it changes"},
			&cli.StringFlag{Name: "token-file", EnvVars: []string{"OSCCR_API_TOKEN_FILE"}, Usage: "file holding a single admin token named \"default\" (or set OSCCR_API_TOKEN)"},
			&cli.StringFlag{Name: "project", Value: "default", EnvVars: []string{"OSCCR_PROJECT"}, Usage: "the project name in /v1/project/{project}/..."},
			&cli.BoolFlag{Name: "insecure-dev", Usage: "serve without authentication, on a loopback address only (development on a trusted machine)"},
			&cli.StringFlag{Name: "tls-cert", EnvVars: []string{"OSCCR_API_TLS_CERT"}, Usage: "PEM certificate (chain) to serve HTTPS with"},
			&cli.StringFlag{Name: "tls-key", EnvVars: []string{"OSCCR_API_TLS_KEY"}, Usage: "PEM private key of --tls-cert"},
			&cli.StringSliceFlag{Name: "host-name", EnvVars: []string{"OSCCR_API_HOST_NAMES"},
				Usage: "a name clients reach this server by (repeat for more); requests naming another Host are refused (DNS rebinding); IP addresses, and localhost on a loopback address, are always accepted"},
			&cli.StringFlag{Name: "audit-log", Value: filepath.Join(stateDir(), "audit.jsonl"), EnvVars: []string{"OSCCR_AUDIT_LOG"},
				Usage: "append-only JSON-lines log of every state-changing request, accepted or refused"},
			&cli.StringFlag{Name: "temporal-ui-url", Value: defaultTemporalUIURL, EnvVars: []string{"OSCCR_TEMPORAL_UI_URL"},
				Usage: "the Temporal Web UI's address, for the console's links to workflows (empty: no links)"},
		},
		Before: func(c *cli.Context) error {
			_, err := serveSettings(c)
			return err
		},
		Action: withControl(func(c *cli.Context, ctl *control.Control) error {
			set, err := serveSettings(c)
			if err != nil {
				return err
			}
			logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
			audit, err := access.OpenLog(c.String("audit-log"))
			if err != nil {
				return fmt.Errorf("%w: --audit-log: %v", errUsage, err)
			}
			defer audit.Close()
			audit.OnError = func(err error) { logger.Error("audit", "err", err) }
			if set.tokens != nil {
				set.tokens.OnReloadError = func(err error) { logger.Warn("tokens", "err", err) }
			}
			handler, err := serveHandler(ctl, set.tokens, c.String("project"), serveOptions{
				audit: audit, throttle: access.DefaultThrottle(), hostNames: c.StringSlice("host-name"), loopback: set.loopback,
				console: console.Config{TemporalUIURL: c.String("temporal-ui-url"), Namespace: c.String("namespace"), Logger: logger},
			})
			if err != nil {
				return err
			}
			srv := &http.Server{
				Addr:              c.String("listen"),
				Handler:           handler,
				ReadHeaderTimeout: 10 * time.Second,
				ReadTimeout:       time.Minute,
				WriteTimeout:      5 * time.Minute,
				MaxHeaderBytes:    64 << 10,
			}
			done := make(chan error, 1)
			scheme := "http"
			if set.tls {
				scheme = "https"
				srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
				go func() { done <- srv.ListenAndServeTLS(c.String("tls-cert"), c.String("tls-key")) }()
			} else {
				go func() { done <- srv.ListenAndServe() }()
			}
			fmt.Printf("osccr console on %s://%s/ and API under /v1/ (project %q; OpenAPI at /openapi.json); audit log %s\n", scheme, c.String("listen"), c.String("project"), audit.Path())
			if !set.tls && !set.loopback {
				logger.Warn("serving plain HTTP on a non-loopback address: tokens cross the network in clear; give --tls-cert and --tls-key")
			}
			select {
			case err := <-done:
				return fmt.Errorf("serve on %s: %w", c.String("listen"), err)
			case <-c.Context.Done():
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}),
	}
}

// stateDir is where osccr keeps its files by default: $OSCCR_STATE_DIR, else ./.state (as the
// worker).
func stateDir() string {
	if d := os.Getenv("OSCCR_STATE_DIR"); d != "" {
		return d
	}
	return ".state"
}

// defaultTemporalUIURL is where `osccr-worker --dev` serves the Temporal Web UI (its default
// --ui-port; the CLI does not link the Temporal server to name the constant).
const defaultTemporalUIURL = "http://127.0.0.1:8233"

// serveOptions are what `osccr serve` puts around the API and the console.
type serveOptions struct {
	audit     access.Auditor
	throttle  *access.Throttle
	hostNames []string
	loopback  bool
	console   console.Config
}

// serveHandler serves the API under /v1/ and /openapi.json, and the web console at every
// other path: two adapters over the same application layer, with the same tokens (nil: no
// authentication), audit log and throttle, behind the Host and Origin checks.
func serveHandler(ctl *control.Control, tokens *access.Tokens, project string, o serveOptions) (http.Handler, error) {
	if o.audit == nil {
		o.audit = access.Discard{}
	}
	cfg := o.console
	cfg.Tokens, cfg.Audit, cfg.Throttle = tokens, o.audit, o.throttle
	web, err := console.New(ctl, cfg)
	if err != nil {
		return nil, err
	}
	apiHandler := api.Handler(ctl, api.Config{Tokens: tokens, Project: project, Audit: o.audit, Throttle: o.throttle})
	mux := http.NewServeMux()
	mux.Handle("/v1/", apiHandler)
	mux.Handle("/openapi.json", apiHandler)
	mux.Handle("/", web)
	return access.Guard{Names: o.hostNames, Loopback: o.loopback, Audit: o.audit}.Wrap(mux), nil
}

// serveSetup is what serve's flags decide before it connects to anything.
type serveSetup struct {
	tokens   *access.Tokens // nil with --insecure-dev
	tls      bool
	loopback bool
}

// serveSettings reads and checks serve's flags: the tokens (a tokens file, a single admin token
// from OSCCR_API_TOKEN or --token-file, or both; none only with --insecure-dev, which only a
// loopback address may have), and TLS (both files or neither).
func serveSettings(c *cli.Context) (serveSetup, error) {
	var set serveSetup
	host, _, err := net.SplitHostPort(c.String("listen"))
	if err != nil {
		return set, fmt.Errorf("%w: --listen %q: want host:port (e.g. 127.0.0.1:8080)", errUsage, c.String("listen"))
	}
	set.loopback = isLoopback(host)
	if (c.String("tls-cert") == "") != (c.String("tls-key") == "") {
		return set, fmt.Errorf("%w: HTTPS needs both --tls-cert and --tls-key", errUsage)
	}
	set.tls = c.String("tls-cert") != ""
	single, err := singleToken(c)
	if err != nil {
		return set, err
	}
	if single == "" && c.String("tokens") == "" {
		if !c.Bool("insecure-dev") {
			return set, fmt.Errorf("%w: the API needs tokens: give --tokens (a file of named tokens with roles: osccr token new makes one), or set OSCCR_API_TOKEN or --token-file (one admin token), or --insecure-dev on a trusted machine", errUsage)
		}
		if !set.loopback {
			return set, fmt.Errorf("%w: --insecure-dev serves everyone as an admin, so it listens on a loopback address only (127.0.0.1, ::1 or localhost), not %s: give tokens (--tokens) to serve on %s", errUsage, host, c.String("listen"))
		}
		return set, nil
	}
	if c.Bool("insecure-dev") {
		return set, fmt.Errorf("%w: --insecure-dev turns authentication off, and tokens are given: leave one out", errUsage)
	}
	if set.tokens, err = access.NewTokens(c.String("tokens"), single); err != nil {
		return set, fmt.Errorf("%w: --tokens: %v", errUsage, err)
	}
	return set, nil
}

// isLoopback reports whether a listen host is a loopback address (an empty host listens on
// every address).
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// singleToken reads the single admin token from --token-file or OSCCR_API_TOKEN ("" for none).
func singleToken(c *cli.Context) (string, error) {
	if path := c.String("token-file"); path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("%w: --token-file: %v", errUsage, err)
		}
		if token := strings.TrimSpace(string(raw)); token != "" {
			return token, nil
		}
		return "", fmt.Errorf("%w: --token-file %s is empty", errUsage, path)
	}
	return os.Getenv("OSCCR_API_TOKEN"), nil
}

func tokenCommand() *cli.Command {
	return &cli.Command{
		Name:      "token",
		Usage:     "make tokens for osccr serve's --tokens file",
		UsageText: "osccr token new --name alice --role operator >> /etc/osccr/tokens",
		Subcommands: []*cli.Command{{
			Name:      "new",
			Usage:     "print a new random token and the line of the tokens file that grants it (only the line's hash stays on the server)",
			UsageText: "osccr token new --name alice --role operator >> /etc/osccr/tokens  (the token itself goes to stderr)",
			Before:    requireFlags("name", "role"),
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "name", Usage: "the token's name: who the audit log says did something"},
				&cli.StringFlag{Name: "role", Usage: "read-only, operator or admin"},
			},
			Action: func(c *cli.Context) error {
				role, err := access.ParseRole(c.String("role"))
				if err != nil {
					return fmt.Errorf("%w: --role: %v", errUsage, err)
				}
				token, line, err := access.NewToken(c.String("name"), role)
				if err != nil {
					return fmt.Errorf("%w: %v", errUsage, err)
				}
				fmt.Fprintf(os.Stderr, "token of %s (%s), shown once: %s\n", c.String("name"), role, token)
				fmt.Println(line)
				return nil
			},
		}},
	}
}
