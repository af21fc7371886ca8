package workerapp_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/osccr/osccr/internal/devserver"
	"github.com/osccr/osccr/internal/temporalconn"
	"github.com/osccr/osccr/internal/testtemporal"
	"github.com/osccr/osccr/internal/workerapp"
	"github.com/osccr/osccr/workflows"
)

const testQueue = "workerapp-test"

func TestDevWorkerPollsItsTaskQueue(t *testing.T) {
	var out strings.Builder
	cfg := workerapp.Config{
		Dev:          true,
		StateDir:     t.TempDir(),
		TemporalPort: 0,
		UIPort:       freePort(t),
		TaskQueue:    testQueue,
		Logger:       testLogger(),
		Stdout:       &out,
	}
	var (
		c  client.Client
		ep workerapp.Endpoint
	)
	app := fxtest.New(t, workerapp.Module(cfg), fx.Populate(&c, &ep), fx.NopLogger)
	began := time.Now()
	app.RequireStart()
	t.Logf("app started in %v: %s", time.Since(began).Round(time.Millisecond), strings.TrimSpace(out.String()))

	waitForPoller(t, c, testQueue)
	if line := out.String(); !strings.Contains(line, ep.HostPort) || !strings.Contains(line, ep.UIURL) || ep.UIURL == "" {
		t.Errorf("start notice %q does not name the Temporal address %s and the Web UI %s", line, ep.HostPort, ep.UIURL)
	}

	began = time.Now()
	app.RequireStop()
	t.Logf("app stopped in %v", time.Since(began).Round(time.Millisecond))

	// The dev server is gone: its frontend port can be bound again.
	l, err := net.Listen("tcp", ep.HostPort)
	if err != nil {
		t.Fatalf("frontend port still held after stop: %v", err)
	}
	_ = l.Close()
}

// Run is what osccr-worker's main calls: it must return nil once its context is cancelled
// (SIGINT/SIGTERM in the binary).
func TestRunStopsWhenContextIsDone(t *testing.T) {
	notices, stdout := io.Pipe()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- workerapp.Run(ctx, workerapp.Config{
			Dev:          true,
			StateDir:     t.TempDir(),
			TemporalPort: 0,
			UIPort:       0,
			TaskQueue:    testQueue,
			Logger:       testLogger(),
			Stdout:       stdout,
		})
		_ = stdout.Close()
	}()

	lines := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(notices)
		if s.Scan() {
			lines <- s.Text()
		}
		_, _ = io.Copy(io.Discard, notices)
	}()
	select {
	case line := <-lines:
		t.Logf("notice: %s", line)
	case err := <-done:
		t.Fatalf("Run returned before the worker started: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("no start notice within a minute")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return within a minute of cancel")
	}
}

func waitForPoller(t *testing.T, c client.Client, queue string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := c.DescribeTaskQueue(ctx, queue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		if err == nil && len(resp.GetPollers()) > 0 {
			t.Logf("pollers on %s: %s", queue, resp.GetPollers()[0].GetIdentity())
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no poller on task queue %s (last error: %v)", queue, err)
		case <-tick.C:
		}
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

func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// A worker pointed at an existing Temporal adds osccr's search attributes to its namespace
// before it starts polling, so the first workflow start does not fail on them.
func TestRemoteWorkerRegistersSearchAttributes(t *testing.T) {
	srv, err := devserver.Start(t.Context(), devserver.Config{StateDir: t.TempDir(), Namespace: "remote-ns", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	plain, err := client.Dial(client.Options{HostPort: srv.HostPort(), Namespace: "remote-ns"})
	if err != nil {
		t.Fatal(err)
	}
	before, err := plain.OperatorService().ListSearchAttributes(t.Context(), &operatorservice.ListSearchAttributesRequest{Namespace: "remote-ns"})
	plain.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := before.GetCustomAttributes()[workflows.SearchService.GetName()]; ok {
		t.Fatal("the plain server already has osccr's search attributes; the test would prove nothing")
	}

	var c client.Client
	app := fxtest.New(t, workerapp.Module(workerapp.Config{
		TemporalAddress: srv.HostPort(),
		Namespace:       "remote-ns",
		TaskQueue:       testQueue,
		Logger:          testLogger(),
		Stdout:          io.Discard,
	}), fx.Populate(&c), fx.NopLogger)
	app.RequireStart()
	defer app.RequireStop()

	resp, err := c.OperatorService().ListSearchAttributes(t.Context(), &operatorservice.ListSearchAttributesRequest{Namespace: "remote-ns"})
	if err != nil {
		t.Fatal(err)
	}
	for name, typ := range workflows.SearchAttributes() {
		if got, ok := resp.GetCustomAttributes()[name]; !ok || got != typ {
			t.Errorf("search attribute %s = %v (present %v), want %v", name, got, ok, typ)
		}
	}
	waitForPoller(t, c, testQueue)
}

// TestWorkersOnMutualTLS: the dev worker reaches its own server when that requires client
// certificates (with the server's in-memory credential), and a remote worker reaches it with
// the operator's certificate, identified by its machine; a remote worker with a bad reference
// fails at start naming the flag.
func TestWorkersOnMutualTLS(t *testing.T) {
	certs := testtemporal.NewCerts(t, t.TempDir())
	var dev client.Client
	var ep workerapp.Endpoint
	devApp := fxtest.New(t, workerapp.Module(workerapp.Config{
		Dev:         true,
		StateDir:    t.TempDir(),
		TaskQueue:   testQueue,
		Machine:     "m-dev",
		TemporalTLS: &devserver.TLSConfig{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, ClientCAFile: certs.CA},
		Logger:      testLogger(),
		Stdout:      io.Discard,
	}), fx.Populate(&dev, &ep), fx.NopLogger)
	devApp.RequireStart()
	defer devApp.RequireStop()
	waitForPoller(t, dev, testQueue)

	var remote client.Client
	remoteApp := fxtest.New(t, workerapp.Module(workerapp.Config{
		TemporalAddress: ep.HostPort,
		Namespace:       ep.Namespace,
		TaskQueue:       "remote-queue",
		Machine:         "m-remote",
		Connection:      temporalconn.Options{CAFile: certs.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey},
		Logger:          testLogger(),
		Stdout:          io.Discard,
	}), fx.Populate(&remote), fx.NopLogger)
	remoteApp.RequireStart()
	defer remoteApp.RequireStop()
	waitForPoller(t, dev, "remote-queue")
	resp, err := dev.DescribeTaskQueue(t.Context(), "remote-queue", enumspb.TASK_QUEUE_TYPE_WORKFLOW)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.GetPollers()[0].GetIdentity(), workerapp.WorkerIdentity("m-remote"); got != want {
		t.Errorf("remote worker polls as %q, want %q", got, want)
	}

	bad := fx.New(workerapp.Module(workerapp.Config{
		TemporalAddress: ep.HostPort,
		Namespace:       ep.Namespace,
		Connection:      temporalconn.Options{CertFile: certs.ClientCert},
		Logger:          testLogger(),
		Stdout:          io.Discard,
	}), fx.NopLogger)
	if err := bad.Err(); err == nil || !strings.Contains(err.Error(), "--temporal-tls-key") {
		t.Errorf("a certificate without its key: %v, want a refusal naming --temporal-tls-key", err)
	}
}
