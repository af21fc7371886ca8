package localnode

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/osccr/osccr/internal/ports"
)

// Spec describes one node. The node directory holds everything the node owns.
type Spec struct {
	// Dir is the node directory: config/, data/, logs/ and osccr's node.json live there.
	Dir string
	// Cluster is the OpenSearch cluster.name.
	Cluster string
	// Name is the OpenSearch node.name; empty means "<Cluster>-0".
	Name string
	// HTTPPort and TransportPort are loopback ports; 0 picks a free port on first start. Once
	// chosen, a node keeps its ports across restarts so remote-cluster seeds stay valid.
	HTTPPort      int
	TransportPort int
	// HeapMB is the JVM heap (-Xms and -Xmx); 0 means 256.
	HeapMB int
	// Settings are extra opensearch.yml settings (for example plugin tuning).
	Settings map[string]string
	// ListSettings are extra opensearch.yml settings whose values are lists.
	ListSettings map[string][]string `json:"list_settings,omitempty"`
	// CopyConfig names directories of the distribution's config directory that are copied into
	// the node's before Files are written (the security plugin's default configuration).
	CopyConfig []string `json:"copy_config,omitempty"`
	// Files are written into the node's config directory (paths relative to it), mode 0600,
	// before the node first starts: certificates, keys, the security plugin's configuration.
	// They are never recorded in node.json; a restart finds them on disk.
	Files map[string][]byte `json:"-"`
	// Append is added at the end of files of the config directory (after CopyConfig and
	// Files), say roles beside the security plugin's default ones. Never recorded in node.json.
	Append map[string][]byte `json:"-"`
	// TLS is set when the node serves HTTPS (the security plugin): the files, relative to the
	// config directory, with which its health check trusts it and authenticates as its admin.
	TLS *TLS `json:"tls,omitempty"`
}

// TLS locates a secured node's CA certificate and an admin client certificate and key.
type TLS struct {
	CA        string `json:"ca"`
	AdminCert string `json:"admin_cert"`
	AdminKey  string `json:"admin_key"`
}

// Node is a node process started from a Spec.
type Node struct {
	Spec
	PID int `json:"pid"`
}

// HTTPURL is the node's REST endpoint (https when it is secured).
func (n *Node) HTTPURL() string {
	scheme := "http"
	if n.TLS != nil {
		scheme = "https"
	}
	return fmt.Sprintf("%s://127.0.0.1:%d", scheme, n.HTTPPort)
}

// ConfigFile is the path of a file in the node's config directory.
func (n *Node) ConfigFile(rel string) string { return filepath.Join(n.Dir, "config", rel) }

// AdminTLS is the TLS configuration with which the node's admin reaches a secured node: its CA
// trusted, its admin certificate presented. Nil for a plain node.
func (n *Node) AdminTLS() (*tls.Config, error) {
	if n.TLS == nil {
		return nil, nil
	}
	ca, err := os.ReadFile(n.ConfigFile(n.TLS.CA))
	if err != nil {
		return nil, fmt.Errorf("node %s: read CA certificate: %w", n.Name, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("node %s: %s holds no PEM certificate", n.Name, n.TLS.CA)
	}
	admin, err := tls.LoadX509KeyPair(n.ConfigFile(n.TLS.AdminCert), n.ConfigFile(n.TLS.AdminKey))
	if err != nil {
		return nil, fmt.Errorf("node %s: load admin certificate: %w", n.Name, err)
	}
	return &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{admin}, MinVersion: tls.VersionTLS12}, nil
}

// TransportAddress is the node's transport endpoint, the seed a remote cluster connects to.
func (n *Node) TransportAddress() string { return fmt.Sprintf("127.0.0.1:%d", n.TransportPort) }

const (
	recordFile  = "node.json"
	pidFile     = "opensearch.pid"
	stdoutFile  = "stdout.log"
	defaultHeap = 256
)

var clusterNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func (s *Spec) normalize() error {
	if s.Dir == "" {
		return errors.New("node spec: Dir is required")
	}
	abs, err := filepath.Abs(s.Dir)
	if err != nil {
		return fmt.Errorf("node spec: %w", err)
	}
	s.Dir = abs
	if !clusterNamePattern.MatchString(s.Cluster) {
		return fmt.Errorf("node spec: cluster name %q must be 1-63 lowercase letters, digits, '-' or '_'", s.Cluster)
	}
	if s.Name == "" {
		s.Name = s.Cluster + "-0"
	}
	if s.HeapMB == 0 {
		s.HeapMB = defaultHeap
	}
	if s.HeapMB < 128 {
		return fmt.Errorf("node spec: heap %d MB is below OpenSearch's practical minimum of 128 MB", s.HeapMB)
	}
	return nil
}

// Start starts the node described by spec and waits until it answers with a yellow or green
// cluster health, or ctx ends. It is idempotent: when the node directory records a node that
// is still running, that node is returned as it is; when it records a node that has stopped,
// the node is started again with the same ports and data.
func (d Distribution) Start(ctx context.Context, spec Spec) (*Node, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	if err := spec.normalize(); err != nil {
		return nil, err
	}
	if existing, err := Find(spec.Dir); err == nil {
		if existing.Cluster != spec.Cluster {
			return nil, fmt.Errorf("node directory %s belongs to cluster %q, not %q", spec.Dir, existing.Cluster, spec.Cluster)
		}
		if existing.alive() {
			return existing, existing.WaitHealthy(ctx)
		}
		// Stopped: restart with the recorded ports, so the address others know stays valid
		// (unless the caller gives others: Revive, for a port taken meanwhile).
		if spec.HTTPPort == 0 && spec.TransportPort == 0 {
			spec.HTTPPort, spec.TransportPort = existing.HTTPPort, existing.TransportPort
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	picked := spec.HTTPPort == 0 && spec.TransportPort == 0
	cred, err := d.runAs()
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		if err := assignPorts(&spec); err != nil {
			return nil, err
		}
		if err := d.writeConfig(spec, cred); err != nil {
			return nil, err
		}
		node := &Node{Spec: spec}
		if err := d.launch(ctx, node, cred); err != nil {
			return nil, err
		}
		err := node.WaitHealthy(ctx)
		if err == nil {
			return node, nil
		}
		// A port found free was taken by another process before the node bound it (several
		// test packages start nodes at once): ports osccr picked are picked again.
		if !picked || attempt == bindAttempts || node.alive() || !node.logContains("java.net.BindException") {
			return nil, err
		}
		spec.HTTPPort, spec.TransportPort = 0, 0
	}
}

// Revive starts again the node that spec describes and its directory records, when it no
// longer runs (killed, crashed): its data and, where they are still free, its recorded ports; a
// port some other process took meanwhile is replaced by a free one, which the returned node
// shows (moved says whether any was). A node that runs is returned as it is. Unlike Start,
// which keeps a stopped node's recorded ports or fails, Revive prefers a node that answers on
// a new port to one that stays down: the caller tells whoever knew the old address.
func (d Distribution) Revive(ctx context.Context, spec Spec) (node *Node, moved bool, err error) {
	if err := spec.normalize(); err != nil {
		return nil, false, err
	}
	n, err := Find(spec.Dir)
	if err != nil {
		return nil, false, err
	}
	if n.alive() {
		return n, false, n.WaitHealthy(ctx)
	}
	for attempt := 1; ; attempt++ {
		spec.HTTPPort, spec.TransportPort = n.HTTPPort, n.TransportPort
		for _, p := range []*int{&spec.HTTPPort, &spec.TransportPort} {
			if *p != 0 && !portFree(*p) {
				*p = 0
			}
		}
		if err := assignPorts(&spec); err != nil {
			return nil, false, err
		}
		moved = spec.HTTPPort != n.HTTPPort || spec.TransportPort != n.TransportPort
		started, err := d.Start(ctx, spec)
		if err == nil {
			return started, moved, nil
		}
		// Taken between the check and the bind: check again.
		if attempt == bindAttempts || ctx.Err() != nil || !strings.Contains(err.Error(), "BindException") {
			return nil, moved, err
		}
	}
}

// portFree reports whether a loopback port can be listened on now.
func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// bindAttempts bounds how often a node whose ports osccr picked is started again on new ports
// after losing one of them to another process.
const bindAttempts = 3

// Find returns the node recorded in a node directory, running or not. The error wraps
// fs.ErrNotExist when the directory holds no node.
func Find(dir string) (*Node, error) {
	raw, err := os.ReadFile(filepath.Join(dir, recordFile))
	if err != nil {
		return nil, fmt.Errorf("read node record in %s: %w", dir, err)
	}
	var n Node
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, fmt.Errorf("parse node record in %s: %w", dir, err)
	}
	if pid, err := readPID(filepath.Join(dir, pidFile)); err == nil {
		n.PID = pid
	}
	return &n, nil
}

// Running reports whether the node process is alive.
func (n *Node) Running() bool { return n.alive() }

// Stop stops the node by its pid: SIGTERM, then SIGKILL if it has not exited when ctx ends.
// Stopping a node that is not running is not an error.
func (n *Node) Stop(ctx context.Context) error {
	if !n.alive() {
		return nil
	}
	if err := syscall.Kill(n.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop node %s (pid %d): %w", n.Name, n.PID, err)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for n.alive() {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(n.PID, syscall.SIGKILL)
			return n.waitGone(5 * time.Second)
		case <-tick.C:
		}
	}
	return nil
}

// Restart stops the node and starts it again with the same directory, ports and data: what a
// node recycle is on this machine.
func (d Distribution) Restart(ctx context.Context, n *Node) (*Node, error) {
	if err := n.Stop(ctx); err != nil {
		return nil, err
	}
	return d.Start(ctx, n.Spec)
}

// WaitHealthy waits until the node's cluster health is yellow or green, failing early with the
// tail of the node's log when its process has died.
func (n *Node) WaitHealthy(ctx context.Context) error {
	tlsConfig, err := n.AdminTLS()
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	defer client.CloseIdleConnections()
	url := n.HTTPURL() + "/_cluster/health?wait_for_status=yellow&timeout=1s"
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := client.Get(url); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if n.PID != 0 && !n.alive() {
			return fmt.Errorf("node %s (pid %d) exited while starting: %s", n.Name, n.PID, n.logTail())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s not healthy at %s: %w; %s", n.Name, n.HTTPURL(), ctx.Err(), n.logTail())
		case <-tick.C:
		}
	}
}

func (d Distribution) writeConfig(s Spec, cred *credential) error {
	for _, sub := range []string{"config", "data", "logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, sub), 0o755); err != nil {
			return fmt.Errorf("create node directory: %w", err)
		}
	}
	// The distribution's logging configuration is reused; osccr writes the rest itself.
	if err := copyFile(filepath.Join(d.Home, "config", "log4j2.properties"), filepath.Join(s.Dir, "config", "log4j2.properties")); err != nil {
		return err
	}
	settings := map[string]string{
		"cluster.name":          s.Cluster,
		"node.name":             s.Name,
		"path.data":             filepath.Join(s.Dir, "data"),
		"path.logs":             filepath.Join(s.Dir, "logs"),
		"network.host":          "127.0.0.1",
		"http.port":             strconv.Itoa(s.HTTPPort),
		"transport.port":        strconv.Itoa(s.TransportPort),
		"discovery.type":        "single-node",
		"bootstrap.memory_lock": "false",
		// A developer machine's disk fill level says nothing about the cluster under test.
		"cluster.routing.allocation.disk.threshold_enabled": "false",
	}
	for k, v := range s.Settings {
		settings[k] = v
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "config", "opensearch.yml"), []byte(renderYAML(settings, s.ListSettings)), 0o644); err != nil {
		return fmt.Errorf("write opensearch.yml: %w", err)
	}
	for _, sub := range s.CopyConfig {
		if err := copyDir(filepath.Join(d.Home, "config", sub), filepath.Join(s.Dir, "config", sub)); err != nil {
			return err
		}
	}
	for _, rel := range slices.Sorted(maps.Keys(s.Files)) {
		path := filepath.Join(s.Dir, "config", rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
		}
		if err := os.WriteFile(path, s.Files[rel], 0o600); err != nil {
			return fmt.Errorf("write %s: %w", rel, err)
		}
	}
	for _, rel := range slices.Sorted(maps.Keys(s.Append)) {
		if err := appendFile(filepath.Join(s.Dir, "config", rel), s.Append[rel]); err != nil {
			return fmt.Errorf("append to %s: %w", rel, err)
		}
	}
	// Every path is absolute: bin/opensearch changes into the distribution's home, which the
	// node's account may not be allowed to write.
	jvm := strings.Join([]string{
		fmt.Sprintf("-Xms%dm", s.HeapMB),
		fmt.Sprintf("-Xmx%dm", s.HeapMB),
		"-XX:+UseG1GC",
		"-Djava.io.tmpdir=" + filepath.Join(s.Dir, "tmp"),
		"-XX:+HeapDumpOnOutOfMemoryError",
		"-XX:HeapDumpPath=" + filepath.Join(s.Dir, "data"),
		"-XX:ErrorFile=" + filepath.Join(s.Dir, "logs", "hs_err_pid%p.log"),
		"-Xlog:gc*:file=" + filepath.Join(s.Dir, "logs", "gc.log") + ":utctime,pid,tags:filecount=4,filesize=16m",
		"18-:-Djava.security.manager=allow",
		"-Djava.util.concurrent.ForkJoinPool.common.threadFactory=org.opensearch.secure_sm.SecuredForkJoinWorkerThreadFactory",
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(s.Dir, "config", "jvm.options"), []byte(jvm), 0o644); err != nil {
		return fmt.Errorf("write jvm.options: %w", err)
	}
	record, err := json.MarshalIndent(Node{Spec: s}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode node record: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, recordFile), record, 0o644); err != nil {
		return fmt.Errorf("write node record: %w", err)
	}
	if cred != nil {
		if err := chownTree(s.Dir, cred); err != nil {
			return err
		}
	}
	return nil
}

func (d Distribution) launch(ctx context.Context, n *Node, cred *credential) error {
	javaHome, err := d.javaHome()
	if err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(n.Dir, pidFile))
	out, err := os.OpenFile(filepath.Join(n.Dir, "logs", stdoutFile), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("open node stdout log: %w", err)
	}
	defer out.Close()
	// -d detaches the JVM from this process, so the node outlives a restart of osccr; -p makes
	// the node write its own pid file, which is how it is found and stopped later.
	cmd := exec.CommandContext(ctx, filepath.Join(d.Home, "bin", "opensearch"), "-d", "-p", filepath.Join(n.Dir, pidFile))
	cmd.Dir = n.Dir
	cmd.Stdout, cmd.Stderr = out, out
	// A minimal environment: nothing of osccr's own (tokens, passwords) reaches the node.
	cmd.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"LANG=C.UTF-8",
		"OPENSEARCH_PATH_CONF=" + filepath.Join(n.Dir, "config"),
		"JAVA_HOME=" + javaHome,
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if cred != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: cred.uid, Gid: cred.gid}
	}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			n.abandon()
		}
		return fmt.Errorf("start node %s: %w; %s", n.Name, err, n.logTail())
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if pid, err := readPID(filepath.Join(n.Dir, pidFile)); err == nil {
			n.PID = pid
			return nil
		}
		select {
		case <-ctx.Done():
			n.abandon()
			return fmt.Errorf("node %s wrote no pid file: %w; %s", n.Name, ctx.Err(), n.logTail())
		case <-tick.C:
		}
	}
}

// abandonGrace bounds how long a start given up on waits for the JVM it launched to write its
// pid file, so as to stop it.
const abandonGrace = 30 * time.Second

// abandon stops the node a start launched and then gave up on (its context ended before the
// node wrote its pid file). The JVM runs in the background of the start script and writes its
// pid file seconds later: left alone it would run unrecorded, and a deprovision that looked
// before the pid file appeared would remove its directory without stopping it.
func (n *Node) abandon() {
	deadline := time.Now().Add(abandonGrace)
	for time.Now().Before(deadline) {
		if pid, err := readPID(filepath.Join(n.Dir, pidFile)); err == nil {
			n.PID = pid
			if n.alive() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				_ = n.waitGone(5 * time.Second)
			}
			return
		}
		time.Sleep(50 * time.Millisecond) // polling a file another process writes
	}
}

func (n *Node) alive() bool {
	if n.PID <= 0 {
		return false
	}
	// A recycled pid belongs to some other program: only a java process counts.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", n.PID))
	if err != nil {
		return false
	}
	return strings.Contains(string(cmdline), "org.opensearch.bootstrap.OpenSearch")
}

func (n *Node) waitGone(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for n.alive() {
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s (pid %d) still running after SIGKILL", n.Name, n.PID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// logTail returns the last lines the node wrote, for error messages.
// LogTail is the end of the node's log: what a failure report shows.
func (n *Node) LogTail() string { return n.logTail() }

// logContains reports whether the node's log holds s.
func (n *Node) logContains(s string) bool {
	raw, err := os.ReadFile(filepath.Join(n.Dir, "logs", n.Cluster+".log"))
	return err == nil && strings.Contains(string(raw), s)
}

func (n *Node) logTail() string {
	for _, name := range []string{filepath.Join("logs", n.Cluster+".log"), filepath.Join("logs", stdoutFile)} {
		raw, err := os.ReadFile(filepath.Join(n.Dir, name))
		if err != nil || len(raw) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		// The last lines of a failed start are the bottom of a stack trace: the cause is above
		// them, the innermost "Caused by:" (else the first ERROR line).
		cause := ""
		for _, l := range lines {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "Caused by:") || cause == "" && strings.Contains(l, "][ERROR]") {
				cause = "cause: " + l + "\n"
			}
		}
		if len(lines) > 8 {
			lines = lines[len(lines)-8:]
		}
		return cause + "last lines of " + name + ":\n" + strings.Join(lines, "\n")
	}
	return "the node wrote no log"
}

func assignPorts(s *Spec) error {
	for _, p := range []*int{&s.HTTPPort, &s.TransportPort} {
		if *p != 0 {
			continue
		}
		port, err := freePort()
		if err != nil {
			return err
		}
		*p = port
	}
	return nil
}

// freePort is FreePort; a test makes it hand out a port that is taken.
var freePort = FreePort

// FreePort returns a loopback TCP port that was free a moment ago (internal/ports).
func FreePort() (int, error) {
	free, err := ports.Free("127.0.0.1", 1)
	if err != nil {
		return 0, err
	}
	return free[0], nil
}

func readPID(path string) (int, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return 0, fmt.Errorf("pid file %s: %w", path, err)
	}
	return pid, nil
}

// copyDir copies the files of a directory (not its subdirectories) into another.
func copyDir(from, to string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", to, err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			if err := copyFile(filepath.Join(from, e.Name()), filepath.Join(to, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func renderYAML(settings map[string]string, lists map[string][]string) string {
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Written by osccr (internal/localnode); rewritten on every start.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, strconv.Quote(settings[k]))
	}
	for _, k := range slices.Sorted(maps.Keys(lists)) {
		quoted := make([]string, len(lists[k]))
		for i, v := range lists[k] {
			quoted[i] = strconv.Quote(v)
		}
		fmt.Fprintf(&b, "%s: [%s]\n", k, strings.Join(quoted, ", "))
	}
	return b.String()
}

func copyFile(from, to string) error {
	raw, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if err := os.WriteFile(to, raw, 0o644); err != nil {
		return fmt.Errorf("copy to %s: %w", to, err)
	}
	return nil
}

func chownTree(root string, cred *credential) error {
	err := filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(cred.uid), int(cred.gid))
	})
	if err != nil {
		return fmt.Errorf("hand node directory %s to uid %d: %w", root, cred.uid, err)
	}
	// The account must be able to reach the node directory through its parents.
	for dir := filepath.Dir(root); dir != "/" && dir != "."; dir = filepath.Dir(dir) {
		info, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("check %s: %w", dir, err)
		}
		if info.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("node directory %s is not reachable by uid %d: %s is not world-searchable (chmod o+x it, or use another state dir)", root, cred.uid, dir)
		}
	}
	return nil
}

// appendFile adds data at the end of the file at path (created 0600 when missing), on a line
// of its own.
func appendFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append([]byte("\n"), data...)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
