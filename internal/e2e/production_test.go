package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/devserver"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/internal/testcontrol"
	"github.com/osccr/osccr/internal/testtemporal"
	"github.com/osccr/osccr/internal/workerapp"
	"github.com/osccr/osccr/workflows"
)

// TestMutualTLSControlPlane runs osccr against a Temporal that requires client certificates:
// a second worker process (another machine) and the osccr CLI connect with theirs; the CLI
// without one is refused, exit code 3; a leader and its follower are created and the follower
// promoted, through the CLI, and the histories name the CLI's and the workers' identities.
func TestMutualTLSControlPlane(t *testing.T) {
	testcluster.Distribution(t)
	base := testcluster.Dir(t)
	certs := testtemporal.NewCerts(t, t.TempDir())
	plane := testcontrol.StartWith(t, base, func(cfg *workerapp.Config) {
		cfg.TemporalTLS = &devserver.TLSConfig{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, ClientCAFile: certs.CA}
	})
	tlsFlags := []string{"--temporal-tls-ca", certs.CA, "--temporal-tls-cert", certs.ClientCert, "--temporal-tls-key", certs.ClientKey}
	machineB := startWorkerProcess(t, plane.Endpoint, "machine-b", filepath.Join(base, "machine-b"), tlsFlags...)
	awaitPoller(t, plane.Temporal, machineB)

	osccr := buildCLI(t)
	cli := func(args ...string) (string, error) {
		full := append([]string{"--temporal-address", plane.Endpoint.HostPort, "--namespace", plane.Endpoint.Namespace}, args...)
		cmd := exec.Command(osccr, full...)
		cmd.Env = os.Environ()
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	withCerts := func(args ...string) string {
		t.Helper()
		out, err := cli(append(append([]string{}, tlsFlags...), args...)...)
		if err != nil {
			t.Fatalf("osccr %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	out, err := cli("--temporal-tls-ca", certs.CA, "service", "list")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("CLI without a client certificate: %v, want exit code 3 (unreachable)\n%s", err, out)
	}
	t.Logf("CLI without a certificate refused: %s", strings.TrimSpace(out))

	began := time.Now()
	withCerts("service", "create", "tls-leader", "--plan", "business-4", "--machine", machineB.Machine, "--security", "none", "--wait")
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, plane.Control, "tls-leader") })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ls, err := plane.Control.GetService(ctx, "tls-leader")
	if err != nil {
		t.Fatal(err)
	}
	lc := serviceClient(t, ls)
	writeDocs(t, ctx, lc, "orders", 0, 200)
	withCerts("follower", "create", "tls-leader", "--name", "tls-follower", "--wait")
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, plane.Control, "tls-follower") })
	fs, err := plane.Control.GetService(ctx, "tls-follower")
	if err != nil {
		t.Fatal(err)
	}
	fc := serviceClient(t, fs)
	eventually(t, 2*time.Minute, "the follower holds every leader document", func() (bool, string) { return sameIDs(ctx, lc, fc, "orders") })
	t.Logf("leader and follower RUNNING through mTLS in %s", time.Since(began).Round(time.Second))

	withCerts("follower", "promote", "tls-follower", "--yes")
	eventually(t, 2*time.Minute, "the promoted follower is standalone and writable", func() (bool, string) {
		st, err := plane.Control.GetService(ctx, "tls-follower")
		if err != nil || st.Role != workflows.RoleStandalone {
			return false, fmt.Sprintf("%+v %v", st.Role, err)
		}
		err = fc.IndexDocument(ctx, "orders", "after-promotion", map[string]any{"n": -1})
		return err == nil, fmt.Sprint(err)
	})

	// Who did what: the CLI started the service workflows, machine-b's worker ran its nodes.
	cliIdentity := startedBy(t, plane.Temporal, workflows.ServiceWorkflowID("tls-follower"))
	if !strings.HasPrefix(cliIdentity, "osccr@") {
		t.Errorf("the follower's workflow was started by %q, want the CLI's identity osccr@HOST:USER", cliIdentity)
	}
	checkOnMachine(t, activityQueues(t, plane.Temporal, workflows.ServiceWorkflowID("tls-leader")), machineB, "ProvisionService")
}

// TestTwoWorkersOnPostgres: two workers with their own state directories (two machines) on one
// Temporal persisted in a real PostgreSQL. The leader runs on one machine, the follower on the
// other; PostgreSQL is stopped and started again under the running follower while documents
// keep arriving. The follower stays RUNNING with every document; every control-plane request
// made while the database was down either succeeded or was refused with a reason, and the
// time the control plane could not answer is reported.
func TestTwoWorkersOnPostgres(t *testing.T) {
	testcluster.Distribution(t)
	base := testcluster.Dir(t)
	pg := testtemporal.StartPostgres(t)
	if err := os.Mkdir(filepath.Join(base, "machine-a"), 0o755); err != nil {
		t.Fatal(err)
	}
	plane := testcontrol.StartWith(t, filepath.Join(base, "machine-a"), func(cfg *workerapp.Config) {
		cfg.Machine = "machine-a"
		cfg.TemporalDB = pg.URL("osccr_temporal")
		cfg.TemporalDBPasswordFile = pg.PasswordFile
	})
	ctl := plane.Control
	machineB := startWorkerProcess(t, plane.Endpoint, "machine-b", filepath.Join(base, "machine-b"))
	awaitPoller(t, plane.Temporal, machineB)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	if err := ctl.CreateService(ctx, control.CreateServiceRequest{Name: "pg-leader", Plan: "business-4", Machine: machineB.Machine, Security: control.SecurityNone}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "pg-leader") })
	ls, err := ctl.WaitService(ctx, "pg-leader", nil)
	if err != nil {
		t.Fatal(err)
	}
	lc := serviceClient(t, ls)
	writeDocs(t, ctx, lc, "orders", 0, 500)
	if err := ctl.CreateFollower(ctx, control.CreateFollowerRequest{Leader: "pg-leader", Name: "pg-follower"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "pg-follower") })
	fs, err := ctl.WaitService(ctx, "pg-follower", nil)
	if err != nil {
		t.Fatal(err)
	}
	// The follower goes to the first free worker: either machine.
	t.Logf("leader on %s, follower on %s", ls.Machine, fs.Machine)
	fc := serviceClient(t, fs)
	eventually(t, 2*time.Minute, "the follower holds every leader document", func() (bool, string) { return sameIDs(ctx, lc, fc, "orders") })

	// The restart, under writes and a control-plane client asking for the follower's state.
	stopWrites := writeAlong(ctx, lc, "orders", 1000)
	probe := startProbe(ctx, ctl, "pg-follower")
	stopped := time.Now()
	pg.Stop()
	eventually(t, 30*time.Second, "the control plane notices the database is gone", func() (bool, string) {
		return probe.failures() > 0, fmt.Sprintf("%d answers, all good", probe.total())
	})
	downFor := time.Since(stopped)
	pg.Start()
	restarted := time.Now()
	eventually(t, 2*time.Minute, "the control plane answers again", func() (bool, string) {
		return probe.okSince(restarted), probe.lastError()
	})
	written := stopWrites()
	report := probe.stop()
	t.Logf("PostgreSQL down %s; control plane: %d requests, %d refused, unavailable %s (first refusal to first answer after the restart), answering again %s after PostgreSQL was back",
		downFor.Round(time.Millisecond), report.total, report.failed, report.unavailable.Round(time.Millisecond), report.recovered.Sub(restarted).Round(time.Millisecond))
	for reason, n := range report.reasons {
		t.Logf("  refused %d× with: %s", n, reason)
		if strings.TrimSpace(reason) == "" {
			t.Errorf("%d requests were refused without a reason", n)
		}
	}

	eventually(t, 3*time.Minute, "the follower holds every document written across the restart", func() (bool, string) {
		return sameIDs(ctx, lc, fc, "orders")
	})
	st, err := ctl.GetService(ctx, "pg-follower")
	if err != nil || st.State != workflows.StateRunning {
		t.Fatalf("follower after the restart: %+v, %v; want RUNNING", st.State, err)
	}
	for _, id := range []string{workflows.ServiceWorkflowID("pg-follower"), workflows.ServiceWorkflowID("pg-leader")} {
		d, err := plane.Temporal.DescribeWorkflowExecution(ctx, id, "")
		if err != nil || d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			t.Errorf("workflow %s after the restart: %v, %v; want running", id, d.GetWorkflowExecutionInfo().GetStatus(), err)
		}
	}
	t.Logf("%d documents written during the restart, all on the follower", written-1000)
}

func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "osccr")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/osccr/osccr/starter").CombinedOutput(); err != nil {
		t.Fatalf("build osccr: %v\n%s", err, out)
	}
	return bin
}

// startedBy is the identity that started a workflow's first run.
func startedBy(t *testing.T, c client.Client, workflowID string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		if a := e.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			return a.GetIdentity()
		}
	}
	return ""
}

// probe asks the control plane for a service's state and the list of services every 100 ms,
// as an operator's console would, and keeps what it got.
type probe struct {
	mu        sync.Mutex
	n, failed int
	firstFail time.Time
	lastOK    time.Time
	recovered time.Time
	lastErr   string
	reasons   map[string]int
	quit      chan struct{}
	done      chan struct{}
}

type probeReport struct {
	total, failed int
	unavailable   time.Duration
	recovered     time.Time
	reasons       map[string]int
}

func startProbe(ctx context.Context, ctl *control.Control, name string) *probe {
	p := &probe{reasons: map[string]int{}, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			// The service's state (a query: its workflow may answer from the history
			// service's cache) and the list of services (visibility: read from the database).
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := ctl.GetService(rctx, name)
			if err == nil {
				_, err = ctl.ListServices(rctx, "")
			}
			cancel()
			now := time.Now()
			p.mu.Lock()
			p.n++
			if err != nil {
				p.failed++
				if p.firstFail.IsZero() {
					p.firstFail = now
				}
				p.lastErr = err.Error()
				p.reasons[reasonOf(err)]++
			} else {
				p.lastOK = now
				if !p.firstFail.IsZero() && p.recovered.IsZero() {
					p.recovered = now
				}
			}
			p.mu.Unlock()
			select {
			case <-p.quit:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return p
}

// reasonOf shortens an error to its kind, so that the report groups alike refusals.
func reasonOf(err error) string {
	msg := err.Error()
	if len(msg) > 160 {
		msg = msg[:160]
	}
	return msg
}

func (p *probe) failures() int { p.mu.Lock(); defer p.mu.Unlock(); return p.failed }
func (p *probe) total() int    { p.mu.Lock(); defer p.mu.Unlock(); return p.n }
func (p *probe) lastError() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// okSince reports whether a request succeeded after t. Recovery is counted only then: a
// request answered from the worker's cache before the database came back does not count.
func (p *probe) okSince(t time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastOK.After(t) {
		if p.recovered.Before(t) {
			p.recovered = p.lastOK
		}
		return true
	}
	return false
}

func (p *probe) stop() probeReport {
	close(p.quit)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	r := probeReport{total: p.n, failed: p.failed, recovered: p.recovered, reasons: p.reasons}
	if !p.firstFail.IsZero() {
		r.unavailable = p.recovered.Sub(p.firstFail)
	}
	return r
}
