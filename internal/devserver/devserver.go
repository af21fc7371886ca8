// Package devserver runs a Temporal server and its Web UI inside the current process, persisted
// to a SQLite file, so `osccr-worker --dev` needs nothing else installed. It is for development
// and demos: one process, one history shard, no TLS, no authorization.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/temporal"

	"github.com/osccr/osccr/internal/searchattr"
)

// Defaults of the osccr-worker flags. In Config a zero port means "pick a free one" for the
// frontend and "no Web UI" for the UI.
const (
	DefaultHost         = "127.0.0.1"
	DefaultFrontendPort = 7233
	DefaultUIPort       = 8233
	DefaultNamespace    = "default"
)

// defaultStartTimeout bounds Start when the caller's context has no deadline.
const defaultStartTimeout = time.Minute

// Config says where the dev server keeps its state and where it listens.
type Config struct {
	// StateDir holds temporal.db (the SQLite database) and a lock file. Created if missing.
	StateDir string
	// Host is the loopback address every listener binds to. Default DefaultHost.
	Host string
	// FrontendPort is the gRPC port clients and workers dial; 0 picks a free port.
	FrontendPort int
	// UIPort is the Web UI's HTTP port; 0 disables the Web UI.
	UIPort int
	// Namespace is created on first use. Default DefaultNamespace.
	Namespace string
	// SearchAttributes are registered on Namespace at every start (missing ones only).
	SearchAttributes map[string]enumspb.IndexedValueType
	// Logger receives the server's warnings and errors; nil discards them.
	Logger *slog.Logger
	// SuggestContinueAsNewAfter is the history length at which the server suggests that a run
	// continue as new; 0 keeps the server's default. The history recorder lowers it to record
	// continue-as-new on short runs.
	SuggestContinueAsNewAfter int
}

func (c Config) withDefaults() Config {
	if c.Host == "" {
		c.Host = DefaultHost
	}
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Server is a running dev server. Stop it with Stop.
type Server struct {
	namespace string
	hostPort  string
	uiURL     string

	temporal temporal.Server
	ui       *webUI // nil when disabled
	logLevel *slog.LevelVar
	unlock   func() error

	stopOnce sync.Once
	stopErr  error
}

// Start starts Temporal (frontend, history, matching and worker services) on cfg.StateDir and,
// unless cfg.UIPort is 0, the Web UI. It returns once the frontend answers, the namespace and
// search attributes exist and the UI serves pages.
//
//  1. Make and lock the state dir; check the chosen ports are free, pick the internal ones.
//  2. On first use create the SQLite schema; create the namespace, with the search attributes,
//     if missing.
//  3. Start the Temporal services, then register missing search attributes through the
//     frontend (this also waits for it to answer) and wait until a visibility query naming
//     each of them is accepted: before that, a request using one is refused.
//  4. Start the Web UI.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	cfg = cfg.withDefaults()
	if cfg.StateDir == "" {
		return nil, errors.New("devserver: StateDir is required")
	}
	if net.ParseIP(cfg.Host) == nil {
		return nil, fmt.Errorf("devserver: Host %q is not an IP address", cfg.Host)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	begin := time.Now()

	stateDir, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return nil, fmt.Errorf("devserver: state dir %s: %w", cfg.StateDir, err)
	}
	if err := ensureWritableDir(stateDir); err != nil {
		return nil, err
	}
	unlock, err := lockStateDir(stateDir)
	if err != nil {
		return nil, err
	}
	s := &Server{namespace: cfg.Namespace, unlock: unlock, logLevel: new(slog.LevelVar)}
	defer func() {
		if err != nil {
			_ = s.Stop()
		}
	}()

	ports, err := allocatePorts(cfg)
	if err != nil {
		return nil, err
	}
	s.hostPort = net.JoinHostPort(cfg.Host, strconv.Itoa(ports.Frontend))

	store := sqliteStore(filepath.Join(stateDir, "temporal.db"))
	if err := prepareDatabase(store, cfg.Namespace, cfg.SearchAttributes); err != nil {
		return nil, err
	}

	s.logLevel.Set(slog.LevelWarn)
	srv, err := newTemporalServer(cfg, ports, store, newServerLogger(cfg.Logger, s.logLevel))
	if err != nil {
		return nil, fmt.Errorf("devserver: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("devserver: start temporal: %w", err)
	}
	s.temporal = srv

	if err := s.awaitFrontend(ctx, cfg); err != nil {
		return nil, err
	}

	if ports.UI > 0 {
		s.ui, err = startWebUI(ctx, cfg.Host, ports.UI, s.hostPort, cfg.Namespace)
		if err != nil {
			return nil, fmt.Errorf("devserver: %w", err)
		}
		s.uiURL = s.ui.url
	}

	cfg.Logger.Info("temporal dev server started",
		"address", s.hostPort, "ui", s.uiURL, "namespace", cfg.Namespace,
		"state", stateDir, "took", time.Since(begin).Round(time.Millisecond))
	return s, nil
}

// awaitFrontend waits for the frontend to answer, then registers the search attributes. The
// services start asynchronously, so "unavailable" and "namespace not found" mean "not yet".
func (s *Server) awaitFrontend(ctx context.Context, cfg Config) error {
	var lastErr error
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		lastErr = s.registerSearchAttributes(ctx, cfg)
		if lastErr == nil {
			return nil
		}
		var unavailable *serviceerror.Unavailable
		var nsNotFound *serviceerror.NamespaceNotFound
		if !errors.As(lastErr, &unavailable) && !errors.As(lastErr, &nsNotFound) {
			return fmt.Errorf("devserver: %w", lastErr)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devserver: frontend %s not ready: %w (last error: %v)", s.hostPort, ctx.Err(), lastErr)
		case <-tick.C:
		}
	}
}

func (s *Server) registerSearchAttributes(ctx context.Context, cfg Config) error {
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  s.hostPort,
		Namespace: cfg.Namespace,
		Logger:    sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := searchattr.Ensure(ctx, c.OperatorService(), cfg.Namespace, cfg.SearchAttributes); err != nil {
		return err
	}
	return searchattr.AwaitUsable(ctx, c.WorkflowService(), cfg.Namespace, cfg.SearchAttributes)
}

// HostPort is the frontend address for Temporal clients and workers.
func (s *Server) HostPort() string { return s.hostPort }

// UIURL is the Web UI's base URL, or "" when the UI is disabled.
func (s *Server) UIURL() string { return s.uiURL }

// Namespace is the namespace the server created.
func (s *Server) Namespace() string { return s.namespace }

// Stop stops the Web UI and Temporal and releases the state dir. Calling it again returns the
// first call's result.
//
// Temporal's SQLite plugin keeps one connection per database file open for the life of the
// process (it never closes pooled connections), so the file stays open after Stop; a later
// Start on the same StateDir in this process reuses that connection.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		if s.ui != nil {
			s.ui.stop()
		}
		if s.temporal != nil {
			// Stopping services log "context canceled" errors for in-flight polls: expected,
			// and alarming to read.
			s.logLevel.Set(slog.LevelError + 4)
			if err := s.temporal.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("stop temporal: %w", err))
			}
		}
		if s.unlock != nil {
			if err := s.unlock(); err != nil {
				errs = append(errs, fmt.Errorf("unlock state dir: %w", err))
			}
		}
		if err := errors.Join(errs...); err != nil {
			s.stopErr = fmt.Errorf("devserver: %w", err)
		}
	})
	return s.stopErr
}

// ensureWritableDir creates dir and proves a file can be written in it, so a read-only or
// misspelled state dir fails here with its name rather than inside SQLite.
func ensureWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("devserver: state dir %s is not writable: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("devserver: state dir %s is not writable: %w", dir, err)
	}
	name := f.Name()
	_ = f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("devserver: state dir %s: %w", dir, err)
	}
	return nil
}
