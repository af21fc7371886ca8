package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/osccr/osccr/internal/api"
	"github.com/osccr/osccr/internal/console"
	"github.com/osccr/osccr/internal/control"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve the web console and the HTTP API (the same use cases as this CLI) until interrupted",
		UsageText: "OSCCR_API_TOKEN=... osccr serve --listen 127.0.0.1:8080",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", EnvVars: []string{"OSCCR_API_LISTEN"}, Usage: "address to listen on"},
			&cli.StringFlag{Name: "token-file", EnvVars: []string{"OSCCR_API_TOKEN_FILE"}, Usage: "file holding the bearer token (or set OSCCR_API_TOKEN)"},
			&cli.StringFlag{Name: "project", Value: "default", EnvVars: []string{"OSCCR_PROJECT"}, Usage: "the project name in /v1/project/{project}/..."},
			&cli.BoolFlag{Name: "insecure-dev", Usage: "serve without authentication (development on a trusted machine only)"},
			&cli.StringFlag{Name: "temporal-ui-url", Value: defaultTemporalUIURL, EnvVars: []string{"OSCCR_TEMPORAL_UI_URL"},
				Usage: "the Temporal Web UI's address, for the console's links to workflows (empty: no links)"},
		},
		Before: func(c *cli.Context) error {
			_, err := apiToken(c)
			return err
		},
		Action: withControl(func(c *cli.Context, ctl *control.Control) error {
			token, _ := apiToken(c)
			handler, err := serveHandler(ctl, token, c.String("project"), console.Config{
				Token: token, TemporalUIURL: c.String("temporal-ui-url"), Namespace: c.String("namespace"),
				Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
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
			go func() { done <- srv.ListenAndServe() }()
			fmt.Printf("osccr console on http://%s/ and API under /v1/ (project %q; OpenAPI at /openapi.json)\n", c.String("listen"), c.String("project"))
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

// defaultTemporalUIURL is where `osccr-worker --dev` serves the Temporal Web UI (its default
// --ui-port; the CLI does not link the Temporal server to name the constant).
const defaultTemporalUIURL = "http://127.0.0.1:8233"

// serveHandler serves the API under /v1/ and /openapi.json, and the web console at every
// other path: two adapters over the same application layer, with the same token.
func serveHandler(ctl *control.Control, token, project string, cfg console.Config) (http.Handler, error) {
	web, err := console.New(ctl, cfg)
	if err != nil {
		return nil, err
	}
	apiHandler := api.Handler(ctl, api.Config{Token: token, Project: project})
	mux := http.NewServeMux()
	mux.Handle("/v1/", apiHandler)
	mux.Handle("/openapi.json", apiHandler)
	mux.Handle("/", web)
	return mux, nil
}

// apiToken reads the bearer token from OSCCR_API_TOKEN or --token-file; without one the API
// refuses to start unless --insecure-dev says otherwise.
func apiToken(c *cli.Context) (string, error) {
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
	if token := os.Getenv("OSCCR_API_TOKEN"); token != "" {
		return token, nil
	}
	if c.Bool("insecure-dev") {
		return "", nil
	}
	return "", fmt.Errorf("%w: the API needs a bearer token: set OSCCR_API_TOKEN or --token-file (or --insecure-dev on a trusted machine)", errUsage)
}
