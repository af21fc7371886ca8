package devserver_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/osccr/osccr/internal/devserver"
	"github.com/osccr/osccr/internal/temporalconn"
	"github.com/osccr/osccr/internal/testtemporal"
)

// TestMutualTLS: with a client CA the server refuses every client without a certificate that
// CA signed, at the handshake; a client with one works; the server's own system worker (which
// runs schedules) and Web UI reach the frontend too.
func TestMutualTLS(t *testing.T) {
	certs := testtemporal.NewCerts(t, t.TempDir())
	srv := start(t, devserver.Config{
		StateDir:  t.TempDir(),
		UIPort:    freePort(t),
		Namespace: testNamespace,
		TLS:       &devserver.TLSConfig{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, ClientCAFile: certs.CA},
		Logger:    testLogger(),
	})
	good := temporalconn.Options{Address: srv.HostPort(), Namespace: testNamespace, CAFile: certs.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey, Identity: "mtls-test"}
	c := dialWith(t, good)
	assertNamespace(t, c, testNamespace)
	assertSystemWorkerRuns(t, c)
	assertUIReachesFrontend(t, srv.UIURL())

	for name, o := range map[string]temporalconn.Options{
		"no certificate":            {CAFile: certs.CA},
		"another CA's certificate":  {CAFile: certs.CA, CertFile: certs.StrangerCert, KeyFile: certs.StrangerKey},
		"plain gRPC (TLS disabled)": {},
	} {
		o.Address, o.Namespace = srv.HostPort(), testNamespace
		if err := refused(t, o); err == nil {
			t.Errorf("%s: describe namespace succeeded, want refused", name)
		} else {
			t.Logf("%s: refused: %v", name, err)
		}
	}
}

// TestAPIKeys: the server requires one of its API keys (over TLS, no client certificate); a
// wrong key and no key get PermissionDenied; the system worker and Web UI still work.
func TestAPIKeys(t *testing.T) {
	dir := t.TempDir()
	certs := testtemporal.NewCerts(t, dir)
	keys := filepath.Join(dir, "api-keys")
	if err := os.WriteFile(keys, []byte("# name key\nci-bot right-key-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyFile := func(key string) string {
		p := filepath.Join(dir, "key-"+key)
		if err := os.WriteFile(p, []byte(key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	srv := start(t, devserver.Config{
		StateDir:    t.TempDir(),
		UIPort:      freePort(t),
		Namespace:   testNamespace,
		TLS:         &devserver.TLSConfig{CertFile: certs.ServerCert, KeyFile: certs.ServerKey},
		APIKeysFile: keys,
		Logger:      testLogger(),
	})
	c := dialWith(t, temporalconn.Options{Address: srv.HostPort(), Namespace: testNamespace, CAFile: certs.CA, APIKeyFile: keyFile("right-key-123")})
	assertNamespace(t, c, testNamespace)
	assertSystemWorkerRuns(t, c)
	assertUIReachesFrontend(t, srv.UIURL())

	t.Setenv("OSCCR_TEST_TEMPORAL_KEY", "wrong-key")
	for name, o := range map[string]temporalconn.Options{
		"wrong key (file)": {CAFile: certs.CA, APIKeyFile: keyFile("right-key-12")},
		"wrong key (env)":  {CAFile: certs.CA, APIKeyEnv: "OSCCR_TEST_TEMPORAL_KEY"},
		"no key":           {CAFile: certs.CA},
	} {
		o.Address, o.Namespace = srv.HostPort(), testNamespace
		err := refused(t, o)
		var denied *serviceerror.PermissionDenied
		if !errors.As(err, &denied) {
			t.Errorf("%s: %v, want PermissionDenied", name, err)
		}
	}

	if _, err := devserver.Start(t.Context(), devserver.Config{StateDir: t.TempDir(), APIKeysFile: keys, Logger: testLogger()}); err == nil || !strings.Contains(err.Error(), "need TLS") {
		t.Errorf("API keys without TLS: %v, want a refusal naming TLS", err)
	}
}

func dialWith(t *testing.T, o temporalconn.Options) client.Client {
	t.Helper()
	opts, err := o.ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	opts.Logger = sdklog.NewStructuredLogger(testLogger())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", o.Address, err)
	}
	t.Cleanup(c.Close)
	return c
}

// refused dials with o and describes the namespace: the error of whichever step fails.
func refused(t *testing.T, o temporalconn.Options) error {
	t.Helper()
	opts, err := o.ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	opts.Logger = sdklog.NewStructuredLogger(testLogger())
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: o.Namespace})
	return err
}

// assertSystemWorkerRuns creates a schedule that fires at once: schedules run in the server's
// system worker, which must therefore reach the frontend for the greet workflow to start.
func assertSystemWorkerRuns(t *testing.T, c client.Client) {
	t.Helper()
	w := worker.New(c, testQueue, worker.Options{})
	w.RegisterWorkflow(greet)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	h, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:                 "sys-worker-check",
		Spec:               client.ScheduleSpec{},
		Action:             &client.ScheduleWorkflowAction{ID: "scheduled-greet", Workflow: greet, Args: []any{"schedule"}, TaskQueue: testQueue},
		TriggerImmediately: true,
	})
	if err != nil {
		t.Fatalf("create schedule: %v", err)
	}
	defer func() { _ = h.Delete(context.Background()) }()
	for {
		d, err := h.Describe(ctx)
		if err == nil && len(d.Info.RecentActions) > 0 {
			run := d.Info.RecentActions[0].StartWorkflowResult
			var got string
			if err := c.GetWorkflow(ctx, run.WorkflowID, run.FirstExecutionRunID).Get(ctx, &got); err != nil || got != "hello schedule" {
				t.Fatalf("scheduled workflow: %q, %v", got, err)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the schedule never started its workflow: the system worker does not reach the frontend (last: %v)", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// assertUIReachesFrontend asks the Web UI for the namespaces, which it reads from the frontend.
func assertUIReachesFrontend(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/v1/namespaces", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s/api/v1/namespaces: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), testNamespace) {
		t.Fatalf("Web UI namespaces: status %d: %.300s", resp.StatusCode, body)
	}
}

// TestPostgres: on a real PostgreSQL (password authentication, the password in a file) the
// server creates both databases with their schema on first start, runs a workflow, and keeps
// it across a restart; a URL holding a password is refused.
func TestPostgres(t *testing.T) {
	pg := testtemporal.StartPostgres(t)
	cfg := devserver.Config{
		StateDir:             t.TempDir(),
		Namespace:            testNamespace,
		Database:             pg.URL("osccr_temporal"),
		DatabasePasswordFile: pg.PasswordFile,
		Logger:               testLogger(),
	}
	srv := start(t, cfg)
	c := dial(t, srv)
	w := worker.New(c, testQueue, worker.Options{})
	w.RegisterWorkflow(greet)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	run, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{ID: "pg-greet", TaskQueue: testQueue}, greet, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if err := run.Get(t.Context(), &got); err != nil || got != "hello postgres" {
		t.Fatalf("workflow: %q, %v", got, err)
	}

	// PostgreSQL restarted under the running server: requests fail while it is down (each
	// with a reason) and work again once it is back, without restarting Temporal.
	pg.Stop()
	downAt := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	_, downErr := c.WorkflowService().ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: testNamespace})
	cancel()
	if downErr == nil || downErr.Error() == "" {
		t.Errorf("listing workflows with PostgreSQL down: %v, want a refusal with a reason", downErr)
	}
	pg.Start()
	upAt := time.Now()
	var answered time.Time
	for deadline := time.Now().Add(time.Minute); ; {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "pg-greet-after", TaskQueue: testQueue}, greet, "again")
		if err == nil {
			err = run.Get(ctx, &got)
		}
		cancel()
		if err == nil && got == "hello again" {
			answered = time.Now()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no workflow runs a minute after PostgreSQL restarted: %v", err)
		}
		time.Sleep(200 * time.Millisecond) // polling cadence of a retrying client
	}
	t.Logf("PostgreSQL restart: refused while down with %q; a new workflow completed %s after PostgreSQL was back (%s after it stopped)",
		downErr, answered.Sub(upAt).Round(time.Millisecond), answered.Sub(downAt).Round(time.Millisecond))
	w.Stop()
	c.Close()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}

	srv = start(t, cfg) // the schema exists now: only the (empty) update runs
	c = dial(t, srv)
	if err := c.GetWorkflow(t.Context(), "pg-greet", "").Get(t.Context(), &got); err != nil || got != "hello postgres" {
		t.Fatalf("after restart: %q, %v", got, err)
	}

	bad := cfg
	bad.StateDir = t.TempDir()
	bad.Database = strings.Replace(pg.URL("osccr_temporal"), "temporal@", "temporal:secret@", 1)
	if _, err := devserver.Start(t.Context(), bad); err == nil || !strings.Contains(err.Error(), "--temporal-db-password-file") || strings.Contains(err.Error(), "secret") {
		t.Errorf("password in the URL: %v, want a refusal naming --temporal-db-password-file without the password", err)
	}
}
