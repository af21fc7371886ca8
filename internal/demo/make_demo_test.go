package demo_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/testcluster"
)

// TestMakeDemoCtrlC runs `make demo` as a person does, in a terminal (a pseudo-terminal here),
// waits until the follower is RUNNING, then types Ctrl-C: the byte a terminal sends, so the
// terminal's line discipline signals its whole foreground process group (make, the script and
// `osccr demo`). Within seconds both services must be deleted, their OpenSearch nodes stopped
// and the control plane stopped, saying so; no process the demo started may be left. The nodes
// run in sessions of their own as another user, so they are found by their node records (pid
// files, ports) under the demo's state dir, not by process group.
func TestMakeDemoCtrlC(t *testing.T) {
	testcluster.RequireCCR(t, testcluster.Distribution(t))
	root := repoRoot(t)
	state := testcluster.Dir(t)
	temporalPort, uiPort := freePort(t), freePort(t)

	cmd := exec.Command("make", "--no-print-directory", "demo", "DEMO_ARGS=--docs 2000")
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"OSCCR_STATE_DIR="+state,
		"OSCCR_TEMPORAL_PORT="+strconv.Itoa(temporalPort),
		"OSCCR_UI_PORT="+strconv.Itoa(uiPort),
		"OSCCR_TEMPORAL_ADDRESS="+net.JoinHostPort("127.0.0.1", strconv.Itoa(temporalPort)),
	)
	terminal, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
	if err != nil {
		t.Fatalf("start make demo in a pseudo-terminal: %v", err)
	}
	defer terminal.Close()
	screen := &transcript{}
	go func() { _, _ = io.Copy(screen, terminal) }()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Whatever happens, nothing this test started outlives it.
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

	if !screen.waitFor("press Ctrl-C to delete the demo services", 12*time.Minute, exited) {
		t.Fatalf("the demo did not reach RUNNING:\n%s", screen)
	}
	if !strings.Contains(screen.String(), "2000 of 2000 documents replicated") {
		t.Errorf("the follower is RUNNING without every document:\n%s", screen)
	}
	nodes := nodesUnder(t, state)
	if len(nodes) != 2 {
		t.Fatalf("found %d nodes under %s, want the leader's and the follower's", len(nodes), state)
	}
	worker := workerPID(t, screen.String())
	started = append(started, worker)
	for _, n := range nodes {
		started = append(started, n.PID)
		if !alive(n.PID) {
			t.Fatalf("node %s (pid %d) is not running before the Ctrl-C", n.Name, n.PID)
		}
	}

	began := time.Now()
	if _, err := terminal.Write([]byte{0x03}); err != nil {
		t.Fatalf("type Ctrl-C: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(3 * time.Minute):
		t.Fatalf("make demo still runs 3 minutes after Ctrl-C:\n%s", screen)
	}
	took := time.Since(began)
	// The pseudo-terminal delivers what is left of the output before it reports the end.
	screen.waitFor("stopped the control plane", 5*time.Second, nil)
	out := screen.String()
	t.Logf("Ctrl-C to the end of make demo: %s\n%s", took.Round(time.Millisecond), out)

	for _, want := range []string{"interrupted: deleting the demo services", "deleted service demo-follower", "deleted service demo-leader", "stopped the control plane"} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo's output after Ctrl-C lacks %q", want)
		}
	}
	if took > time.Minute {
		t.Errorf("Ctrl-C took %s to clean up, want seconds", took.Round(time.Millisecond))
	}
	if alive(worker) {
		t.Errorf("the control plane (pid %d) still runs", worker)
	}
	if listening(temporalPort) {
		t.Errorf("the Temporal port %d still accepts connections", temporalPort)
	}
	for _, n := range nodes {
		if alive(n.PID) {
			t.Errorf("node %s (pid %d) still runs", n.Name, n.PID)
		}
		if listening(n.HTTPPort) || listening(n.TransportPort) {
			t.Errorf("node %s: port %d or %d still accepts connections", n.Name, n.HTTPPort, n.TransportPort)
		}
	}
}

// transcript is what the terminal showed, safe to read while it is written.
type transcript struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *transcript) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *transcript) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor reports whether text appeared within limit; it gives up early when the process ends.
func (s *transcript) waitFor(text string, limit time.Duration, exited <-chan error) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if strings.Contains(s.String(), text) {
			return true
		}
		select {
		case err := <-exited:
			time.Sleep(200 * time.Millisecond) // let the copier drain the terminal
			s.Write(fmt.Appendf(nil, "\n[make demo ended: %v]\n", err))
			return strings.Contains(s.String(), text)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return false
}

func nodesUnder(t *testing.T, dir string) []*localnode.Node {
	t.Helper()
	var nodes []*localnode.Node
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.Name() != "node.json" {
			return err
		}
		n, err := localnode.Find(filepath.Dir(path))
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
		return nil
	})
	if err != nil {
		t.Fatalf("find nodes under %s: %v", dir, err)
	}
	return nodes
}

var workerLine = regexp.MustCompile(`control plane up \(pid (\d+)\)`)

func workerPID(t *testing.T, out string) int {
	t.Helper()
	m := workerLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the demo did not say the control plane's pid:\n%s", out)
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// alive reports whether pid runs: a zombie (exited, not yet reaped by its parent) does not.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist)
	}
	// The state follows the command name, which is in parentheses and may hold spaces.
	rest := stat[bytes.LastIndexByte(stat, ')')+1:]
	return !bytes.HasPrefix(bytes.TrimSpace(rest), []byte("Z"))
}

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err == nil {
		_ = c.Close()
	}
	return err == nil
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := localnode.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// repoRoot is the directory with the Makefile, found from this package's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "Makefile")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no Makefile above the test's directory")
		}
		dir = parent
	}
}
