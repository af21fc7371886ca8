package devserver_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/internal/devserver"
)

const (
	testNamespace = "osccr-devserver-test"
	testQueue     = "devserver-test"
)

var (
	searchKind = temporal.NewSearchAttributeKeyKeyword("DevTestKind")
	searchSize = temporal.NewSearchAttributeKeyInt64("DevTestSize")
	// searchLater is added on the second start only: registration must be additive.
	searchLater = temporal.NewSearchAttributeKeyKeyword("DevTestLater")
)

func greet(_ workflow.Context, name string) (string, error) {
	return "hello " + name, nil
}

func TestServerRunsWorkflowsAndKeepsThemAcrossRestart(t *testing.T) {
	stateDir := t.TempDir()
	uiPort := freePort(t)
	cfg := devserver.Config{
		StateDir:     stateDir,
		FrontendPort: 0,
		UIPort:       uiPort,
		Namespace:    testNamespace,
		SearchAttributes: map[string]enumspb.IndexedValueType{
			searchKind.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
			searchSize.GetName(): enumspb.INDEXED_VALUE_TYPE_INT,
		},
		Logger: testLogger(),
	}

	srv := start(t, cfg)
	if _, err := os.Stat(filepath.Join(stateDir, "temporal.db")); err != nil {
		t.Fatalf("database file: %v", err)
	}

	// A second server on the same state dir must refuse, not share the database.
	if other, err := devserver.Start(t.Context(), devserver.Config{StateDir: stateDir, Logger: testLogger()}); err == nil {
		_ = other.Stop()
		t.Fatal("second Start on a locked state dir succeeded")
	} else if !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Start: %v, want a state dir in use error", err)
	}

	c := dial(t, srv)
	assertNamespace(t, c, testNamespace)
	assertSearchAttributes(t, c, searchKind.GetName(), searchSize.GetName())
	assertQueryable(t, c, searchKind.GetName(), searchSize.GetName())

	w := worker.New(c, testQueue, worker.Options{})
	w.RegisterWorkflow(greet)
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        "greet-1",
		TaskQueue: testQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			searchKind.ValueSet("greeting"), searchSize.ValueSet(1)),
	}, greet, "osccr")
	if err != nil {
		t.Fatalf("start workflow: %v", err)
	}
	var got string
	if err := run.Get(ctx, &got); err != nil {
		t.Fatalf("workflow result: %v", err)
	}
	if got != "hello osccr" {
		t.Fatalf("workflow result %q, want %q", got, "hello osccr")
	}
	w.Stop()

	assertUI(t, srv.UIURL())

	c.Close()
	began := time.Now()
	if err := srv.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	t.Logf("server stopped in %v", time.Since(began).Round(time.Millisecond))
	if err := srv.Stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}

	// Restart on the same state dir (and the same, now released, UI port).
	cfg.SearchAttributes[searchLater.GetName()] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
	srv = start(t, cfg)
	c = dial(t, srv)
	assertSearchAttributes(t, c, searchKind.GetName(), searchSize.GetName(), searchLater.GetName())
	// Added on this start: usable at once, not after the namespace cache's next refresh.
	assertQueryable(t, c, searchLater.GetName())
	desc, err := c.DescribeWorkflowExecution(ctx, "greet-1", run.GetRunID())
	if err != nil {
		t.Fatalf("describe workflow after restart: %v", err)
	}
	if status := desc.GetWorkflowExecutionInfo().GetStatus(); status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Fatalf("workflow status after restart %v, want completed", status)
	}
	assertUI(t, srv.UIURL())
}

func TestStartRejectsBusyFrontendPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	srv, err := devserver.Start(t.Context(), devserver.Config{StateDir: t.TempDir(), FrontendPort: port, Logger: testLogger()})
	if err == nil {
		_ = srv.Stop()
		t.Fatal("Start on a busy port succeeded")
	}
	var inUse *devserver.PortInUseError
	if !errors.As(err, &inUse) || inUse.Port != port {
		t.Fatalf("Start: %v, want a PortInUseError for port %d", err, port)
	}
	if !strings.Contains(err.Error(), "--temporal-port") {
		t.Fatalf("error %q does not say how to fix it", err)
	}
}

func TestStartRejectsUnwritableStateDir(t *testing.T) {
	// A regular file where the directory should be: unwritable even for root.
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := devserver.Start(t.Context(), devserver.Config{StateDir: filepath.Join(notDir, "state"), Logger: testLogger()})
	if err == nil {
		_ = srv.Stop()
		t.Fatal("Start on an unwritable state dir succeeded")
	}
	if !strings.Contains(err.Error(), "not writable") {
		t.Fatalf("Start: %v, want a not writable error", err)
	}
}

func start(t *testing.T, cfg devserver.Config) *devserver.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	began := time.Now()
	srv, err := devserver.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start dev server: %v", err)
	}
	t.Logf("server started in %v at %s, ui %s", time.Since(began).Round(time.Millisecond), srv.HostPort(), srv.UIURL())
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

func dial(t *testing.T, srv *devserver.Server) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  srv.HostPort(),
		Namespace: srv.Namespace(),
		Logger:    sdklog.NewStructuredLogger(testLogger()),
	})
	if err != nil {
		t.Fatalf("dial %s: %v", srv.HostPort(), err)
	}
	t.Cleanup(c.Close)
	return c
}

func assertNamespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	resp, err := c.WorkflowService().DescribeNamespace(t.Context(), &workflowservice.DescribeNamespaceRequest{Namespace: name})
	if err != nil {
		t.Fatalf("describe namespace %s: %v", name, err)
	}
	if got := resp.GetNamespaceInfo().GetName(); got != name {
		t.Fatalf("namespace %q, want %q", got, name)
	}
}

func assertSearchAttributes(t *testing.T, c client.Client, names ...string) {
	t.Helper()
	resp, err := c.OperatorService().ListSearchAttributes(t.Context(), &operatorservice.ListSearchAttributesRequest{Namespace: testNamespace})
	if err != nil {
		t.Fatalf("list search attributes: %v", err)
	}
	for _, name := range names {
		if _, ok := resp.GetCustomAttributes()[name]; !ok {
			t.Errorf("search attribute %s not registered; have %v", name, resp.GetCustomAttributes())
		}
	}
}

// assertQueryable checks, without waiting, that a visibility query naming each attribute is
// accepted the moment Start has returned.
func assertQueryable(t *testing.T, c client.Client, names ...string) {
	t.Helper()
	for _, name := range names {
		query := name + " IS NULL"
		if _, err := c.CountWorkflow(t.Context(), &workflowservice.CountWorkflowExecutionsRequest{Namespace: testNamespace, Query: query}); err != nil {
			t.Errorf("query %q right after Start: %v", query, err)
		}
	}
}

func assertUI(t *testing.T, url string) {
	t.Helper()
	if url == "" {
		t.Fatal("UI URL is empty with the UI enabled")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("GET %s: content type %q, want text/html", url, ct)
	}
	if !strings.Contains(strings.ToLower(string(body)), "<html") {
		t.Fatalf("GET %s: body is not an HTML page: %.200s", url, body)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// testLogger shows warnings and errors on stderr; t.Log would panic on a late server log.
func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
