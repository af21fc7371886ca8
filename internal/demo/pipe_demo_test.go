package demo_test

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/testcluster"
)

// TestMakeDemoPipe is `make demo | tee demo.log` and Ctrl-C: the reader of the demo's output
// (tee) is gone first, then every process of the pipeline's group gets SIGINT, as a terminal
// sends it. The demo must still delete both services (their nodes stop) and the control plane
// must stop, although nothing it writes can be read any more: checked on the processes and
// ports themselves, not on the output.
func TestMakeDemoPipe(t *testing.T) {
	testcluster.RequireCCR(t, testcluster.Distribution(t))
	root := repoRoot(t)
	state := testcluster.Dir(t)
	temporalPort, uiPort := freePort(t), freePort(t)

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "--no-print-directory", "demo", "DEMO_ARGS=--docs 500")
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"OSCCR_STATE_DIR="+state,
		"OSCCR_TEMPORAL_PORT="+strconv.Itoa(temporalPort),
		"OSCCR_UI_PORT="+strconv.Itoa(uiPort),
		"OSCCR_TEMPORAL_ADDRESS="+net.JoinHostPort("127.0.0.1", strconv.Itoa(temporalPort)),
	)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the pipeline's process group
	if err := cmd.Start(); err != nil {
		t.Fatalf("start make demo: %v", err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var started []int
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		for _, pid := range started {
			if alive(pid) {
				t.Errorf("pid %d still runs after the test: killing it", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})

	// The reader: what tee would have shown, up to the demo's invitation to press Ctrl-C.
	screen := &transcript{}
	ready := make(chan struct{})
	go func() {
		lines := bufio.NewScanner(r)
		for lines.Scan() {
			screen.Write([]byte(lines.Text() + "\n"))
			if strings.Contains(lines.Text(), "press Ctrl-C to delete the demo services") {
				close(ready)
				return // stop reading: the next write finds the pipe full or, once closed, broken
			}
		}
	}()
	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("make demo ended (%v) before the follower was RUNNING:\n%s", err, screen)
	case <-time.After(12 * time.Minute):
		t.Fatalf("the demo did not reach RUNNING:\n%s", screen)
	}
	nodes := nodesUnder(t, state)
	if len(nodes) != 2 {
		t.Fatalf("found %d nodes under %s, want the leader's and the follower's", len(nodes), state)
	}
	worker := workerPID(t, screen.String())
	started = append(started, worker)
	for _, n := range nodes {
		started = append(started, n.PID)
	}

	r.Close() // tee is gone
	began := time.Now()
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatalf("Ctrl-C to the pipeline: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(3 * time.Minute):
		t.Fatal("make demo still runs 3 minutes after Ctrl-C")
	}
	// make may end before the script's clean-up does: wait for what it stops.
	deadline := time.Now().Add(2 * time.Minute)
	gone := func() bool {
		if alive(worker) {
			return false
		}
		for _, n := range nodes {
			if alive(n.PID) {
				return false
			}
		}
		return true
	}
	for !gone() && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("Ctrl-C with the output's reader gone to everything stopped: %s", time.Since(began).Round(time.Millisecond))
	if alive(worker) {
		t.Errorf("the control plane (pid %d) still runs", worker)
	}
	for _, n := range nodes {
		if alive(n.PID) {
			t.Errorf("node %s (pid %d) still runs: the demo did not delete its service", n.Name, n.PID)
		}
	}
	if listening(temporalPort) {
		t.Errorf("the Temporal port %d still accepts connections", temporalPort)
	}
}
