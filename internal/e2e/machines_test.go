package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/osccr/osccr/internal/workerapp"
	"github.com/osccr/osccr/workflows"
)

// workerProcess is a second osccr-worker process (its own machine name and state directory)
// on the Temporal of a test's control plane.
type workerProcess struct {
	Machine  string
	StateDir string
	Pid      int
	// Stop stops the worker as an operator would (SIGTERM, SIGKILL after 30 s) and returns
	// once it has exited; the test's end calls it too, and calling it again does nothing.
	Stop func()
}

// startWorkerProcess builds osccr-worker and runs it against ep as the machine named machine,
// with its local services under stateDir, until the test ends (SIGTERM, then SIGKILL, by pid).
// It returns once the worker says it polls. extra are more flags (TLS, credentials).
func startWorkerProcess(t *testing.T, ep workerapp.Endpoint, machine, stateDir string, extra ...string) workerProcess {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "osccr-worker")
	build := exec.Command("go", "build", "-o", bin, "github.com/osccr/osccr/worker")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build osccr-worker: %v\n%s", err, out)
	}
	args := append([]string{"--temporal-address", ep.HostPort, "--namespace", ep.Namespace, "--machine", machine, "--state-dir", stateDir, "--log-level", "warn"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start osccr-worker: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := sync.OnceFunc(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	t.Cleanup(stop)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "osccr-worker: control plane ready") {
				ready <- sc.Text()
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-ready:
		if !strings.Contains(line, fmt.Sprintf("machine %q", machine)) {
			t.Fatalf("worker %s does not poll its machine's task queue: %s", machine, line)
		}
	case <-exited:
		t.Fatalf("osccr-worker for machine %s exited before it was ready", machine)
	case <-time.After(2 * time.Minute):
		t.Fatalf("osccr-worker for machine %s not ready within 2 minutes", machine)
	}
	return workerProcess{Machine: machine, StateDir: stateDir, Pid: cmd.Process.Pid, Stop: stop}
}

// awaitPoller waits until Temporal has seen the machine's worker poll its task queue.
func awaitPoller(t *testing.T, c client.Client, w workerProcess) {
	t.Helper()
	eventually(t, time.Minute, "machine "+w.Machine+"'s worker polls its task queue", func() (bool, string) {
		resp, err := c.DescribeTaskQueue(context.Background(), workflows.MachineTaskQueue(w.Machine), enumspb.TASK_QUEUE_TYPE_ACTIVITY)
		return err == nil && len(resp.GetPollers()) > 0, fmt.Sprintf("%v %v", resp.GetPollers(), err)
	})
}

// activityQueues reads a workflow's history: for each activity type, the task queues its tasks
// were scheduled on and the identities of the workers that started them.
func activityQueues(t *testing.T, c client.Client, workflowID string) map[string][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	scheduled := map[int64]string{}
	out := map[string][]string{}
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			name := a.GetActivityType().GetName()
			scheduled[e.GetEventId()] = name
			out[name] = append(out[name], "queue "+a.GetTaskQueue().GetName())
		}
		if a := e.GetActivityTaskStartedEventAttributes(); a != nil {
			name := scheduled[a.GetScheduledEventId()]
			out[name] = append(out[name], "worker "+a.GetIdentity())
		}
	}
	return out
}

// checkOnMachine fails unless every task of each activity was scheduled on the machine's task
// queue and started by the worker process with that pid.
func checkOnMachine(t *testing.T, queues map[string][]string, w workerProcess, names ...string) {
	t.Helper()
	wantQueue := "queue " + workflows.MachineTaskQueue(w.Machine)
	for _, name := range names {
		got := queues[name]
		if len(got) == 0 {
			t.Errorf("%s never ran", name)
		}
		for _, g := range got {
			switch {
			case strings.HasPrefix(g, "queue ") && g != wantQueue:
				t.Errorf("%s scheduled on %s, want %s", name, g, wantQueue)
			case strings.HasPrefix(g, "worker ") && g != "worker "+workerapp.WorkerIdentityOf(w.Machine, w.Pid):
				t.Errorf("%s started by %s, want the worker process of machine %s (pid %d)", name, g, w.Machine, w.Pid)
			}
		}
	}
}
