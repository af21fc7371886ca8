// Package testcontrol starts osccr's control plane for tests exactly as `osccr-worker --dev`
// runs it: the embedded Temporal server and the worker with its real activities. It stops when
// the test ends.
package testcontrol

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.temporal.io/sdk/client"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/workerapp"
)

// LogFile is the worker's log in the state directory.
const LogFile = "worker.log"

// Plane is a running control plane.
type Plane struct {
	Control  *control.Control
	Temporal client.Client
	Endpoint workerapp.Endpoint
	// Stop stops the control plane as a worker process stops (its embedded Temporal keeps its
	// state on disk, and local services' nodes keep running): a test that restarts the worker
	// calls it, then Start again on the same state directory. It is also called when the test
	// ends; calling it again does nothing.
	Stop func()
}

// Start starts the control plane with its state (and local services' nodes) under stateDir;
// local services need a directory the node account can reach (testcluster.Dir).
func Start(t testing.TB, stateDir string) Plane {
	t.Helper()
	return StartWith(t, stateDir, nil)
}

// StartWith is Start with the worker's Config adjusted by adjust (a database, TLS, API keys)
// before it starts; nil changes nothing.
func StartWith(t testing.TB, stateDir string, adjust func(*workerapp.Config)) Plane {
	t.Helper()
	var p Plane
	// The worker's log goes to worker.log in the state directory, as an operator's would: a
	// test can read it (the secret scan does).
	logFile, err := os.OpenFile(filepath.Join(stateDir, LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("open worker log: %v", err)
	}
	t.Cleanup(func() { _ = logFile.Close() })
	logger := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg := workerapp.Config{Dev: true, StateDir: stateDir, Logger: logger, Stdout: io.Discard}
	if adjust != nil {
		adjust(&cfg)
	}
	app := fxtest.New(t,
		workerapp.Module(cfg),
		fx.Populate(&p.Temporal, &p.Endpoint), fx.NopLogger)
	app.RequireStart()
	p.Stop = sync.OnceFunc(app.RequireStop)
	t.Cleanup(p.Stop)
	p.Control = control.New(p.Temporal)
	return p
}
