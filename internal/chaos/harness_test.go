package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/faults"
	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/testcluster"
)

// Lines the processes print once they serve.
const (
	workerReady   = "osccr-worker: control plane ready"
	temporalReady = "temporaldev: ready on "
)

// binaries are the programs under test, built once per test binary.
type binaries struct{ worker, temporal, cli string }

var (
	buildOnce sync.Once
	built     binaries
	buildErr  error
)

// build compiles osccr-worker, temporaldev and the osccr CLI into a directory that outlives
// the tests of this binary (removed by TestMain).
func build(t *testing.T) binaries {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "osccr-chaos-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		built = binaries{worker: filepath.Join(dir, "osccr-worker"), temporal: filepath.Join(dir, "temporaldev"), cli: filepath.Join(dir, "osccr")}
		for out, pkg := range map[string]string{built.worker: "../../worker", built.temporal: "../tools/temporaldev", built.cli: "../../starter"} {
			cmd := exec.Command("go", "build", "-o", out, pkg)
			if b, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// proc is one running program with its output captured (and copied to a log file).
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// tail is the end of the output, for failure messages.
func (p *proc) tail() string {
	s := p.output()
	if len(s) > 3000 {
		s = "..." + s[len(s)-3000:]
	}
	return s
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// start runs a program and waits until its output holds ready.
func start(name, ready string, env []string, bin string, args ...string) (*proc, error) {
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(p.output(), ready) {
		if p.exited() {
			return nil, fmt.Errorf("%s exited before it was ready (%v):\n%s", name, p.err, p.tail())
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("%s not ready after 2m:\n%s", name, p.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p, nil
}

// kill SIGKILLs the process (by its pid) and waits for it to be gone.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop asks the process to stop (SIGTERM) and waits; SIGKILL after a minute.
func (p *proc) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		p.kill()
	}
}

// killedBySIGKILL says whether the process ended by SIGKILL.
func (p *proc) killedBySIGKILL() bool {
	var exit *exec.ExitError
	if !errors.As(p.err, &exit) {
		return false
	}
	ws, ok := exit.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// plane is osccr's control plane as two processes: the embedded Temporal dev server
// (temporaldev) and osccr-worker dialing it, with their state under dir. Local services'
// nodes live under dir/services and outlive both.
type plane struct {
	t        *testing.T
	bins     binaries
	dir      string
	port     int
	temporal *proc
	worker   *proc
	// point is the kill point the running worker was started with ("" for none).
	point  string
	starts int
	// opensearchHome is the distribution the worker starts nodes from.
	opensearchHome string
	Temporal       client.Client
	Control        *control.Control
}

func newPlane(t *testing.T, dir string) *plane {
	t.Helper()
	port, err := localnode.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p := &plane{t: t, bins: build(t), dir: dir, port: port, opensearchHome: testcluster.Distribution(t).Home}
	t.Cleanup(p.shutdown)
	p.startTemporal()
	c, err := client.Dial(client.Options{HostPort: p.hostPort()})
	if err != nil {
		t.Fatalf("dial temporal %s: %v", p.hostPort(), err)
	}
	t.Cleanup(c.Close)
	p.Temporal, p.Control = c, control.New(c)
	p.startWorker("")
	return p
}

func (p *plane) hostPort() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

func (p *plane) startTemporal() {
	p.t.Helper()
	tp, err := start("temporaldev", temporalReady, os.Environ(), p.bins.temporal,
		"--state-dir", filepath.Join(p.dir, "temporal"), "--port", strconv.Itoa(p.port))
	if err != nil {
		p.t.Fatal(err)
	}
	p.temporal = tp
}

// startWorker starts osccr-worker, armed with a kill point unless point is "".
func (p *plane) startWorker(point string) {
	p.t.Helper()
	// The worker runs local services from the distribution the test found, wherever it runs.
	env := []string{"OSCCR_OPENSEARCH_HOME=" + p.opensearchHome}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, faults.EnvKill+"=") && !strings.HasPrefix(kv, "OSCCR_OPENSEARCH_HOME=") {
			env = append(env, kv)
		}
	}
	if point != "" {
		env = append(env, faults.EnvKill+"="+point)
	}
	p.starts++
	w, err := start(fmt.Sprintf("osccr-worker #%d", p.starts), workerReady, env, p.bins.worker,
		"--temporal-address", p.hostPort(), "--state-dir", p.dir, "--log-level", "warn")
	if err != nil {
		p.t.Fatal(err)
	}
	p.worker, p.point = w, point
}

// rearm restarts a live worker with another kill point (a graceful stop: not a fault).
func (p *plane) rearm(point string) {
	p.t.Helper()
	if p.worker != nil && !p.worker.exited() && p.point == point {
		return
	}
	if p.worker != nil {
		p.worker.stop()
	}
	p.startWorker(point)
}

// awaitKill waits until the worker killed itself at its point: it died of SIGKILL after
// printing the fault marker for that point. It fails when the worker is still alive at the
// deadline, or when it died some other way.
func (p *plane) awaitKill(limit time.Duration) error {
	select {
	case <-p.worker.done:
	case <-time.After(limit):
		return fmt.Errorf("kill point %s not reached in %s", p.point, limit)
	}
	if !p.worker.killedBySIGKILL() || !strings.Contains(p.worker.output(), faults.Marker+p.point) {
		return fmt.Errorf("worker ended (%v) without the kill at %s:\n%s", p.worker.err, p.point, p.worker.tail())
	}
	return nil
}

// restartTemporal kills the Temporal process (SIGKILL: it gets no chance to flush anything
// the database has not committed) and starts it again on the same state and port.
func (p *plane) restartTemporal() {
	p.t.Helper()
	p.temporal.kill()
	p.startTemporal()
}

// shutdown stops the worker, then Temporal (gracefully), at the end of the test.
func (p *plane) shutdown() {
	if p.worker != nil {
		p.worker.stop()
		if out := os.Getenv("OSCCR_CHAOS_LOGS"); out != "" {
			_ = os.WriteFile(filepath.Join(out, "worker.log"), []byte(p.worker.output()), 0o644)
		}
	}
	if p.temporal != nil {
		p.temporal.stop()
	}
}

// ctx is a context bounded by limit for one step of a scenario.
func bounded(limit time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), limit)
}
