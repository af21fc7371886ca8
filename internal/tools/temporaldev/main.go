// Command temporaldev runs osccr's embedded Temporal dev server on its own, without a worker,
// so Temporal and the worker can be two processes (osccr-worker --temporal-address dials it):
// the fault-injection suite (internal/chaos) restarts one without the other. It prints
// ReadyLine once the frontend accepts requests and runs until SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/osccr/osccr/internal/devserver"
	"github.com/osccr/osccr/workflows"
)

// ReadyLine starts the line printed once the server answers.
const ReadyLine = "temporaldev: ready on "

func main() {
	stateDir := flag.String("state-dir", "./.state/temporal", "directory of the server's SQLite database")
	port := flag.Int("port", devserver.DefaultFrontendPort, "frontend port on 127.0.0.1")
	uiPort := flag.Int("ui-port", 0, "Web UI port, 0 for none")
	flag.Parse()
	if err := run(*stateDir, *port, *uiPort); err != nil {
		fmt.Fprintln(os.Stderr, "temporaldev:", err)
		os.Exit(1)
	}
}

func run(stateDir string, port, uiPort int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := devserver.Start(ctx, devserver.Config{
		StateDir:         stateDir,
		FrontendPort:     port,
		UIPort:           uiPort,
		SearchAttributes: workflows.SearchAttributes(),
		Logger:           logger,
	})
	if err != nil {
		return err
	}
	fmt.Println(ReadyLine + srv.HostPort())
	<-ctx.Done()
	return srv.Stop()
}
