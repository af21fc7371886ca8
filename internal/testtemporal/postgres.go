package testtemporal

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/ports"
)

// Postgres is a PostgreSQL server of a test's own: its data directory in a temp dir, on
// 127.0.0.1 and a free port, with password (SCRAM) authentication for one user. It is stopped,
// by pid, when the test ends.
type Postgres struct {
	Port         int
	User         string
	PasswordFile string // readable by the test process only

	t       testing.TB
	bin     string
	dataDir string
	cred    *syscall.Credential
	cmd     *exec.Cmd
	exited  chan struct{}
}

// pgBinDir finds Debian's PostgreSQL (not on PATH): $OSCCR_POSTGRES_BIN, else the newest
// /usr/lib/postgresql/*/bin that has initdb.
func pgBinDir() (string, error) {
	if dir := os.Getenv("OSCCR_POSTGRES_BIN"); dir != "" {
		return dir, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		return "", fmt.Errorf("PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb (install Debian's postgresql package, or set OSCCR_POSTGRES_BIN)")
	}
	sort.Slice(found, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(found[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(found[j]))))
		return vi < vj
	})
	return filepath.Dir(found[len(found)-1]), nil
}

// StartPostgres initialises a database cluster and starts PostgreSQL. initdb and postgres
// refuse to run as root: when the test is root they run as the nodes' account
// ($OSCCR_NODE_USER, else localnode.DefaultRunAsUser).
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin, err := pgBinDir()
	if err != nil {
		t.Fatal(err)
	}
	p := &Postgres{t: t, bin: bin, User: "temporal"}
	base, err := os.MkdirTemp("", "osccr-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		name := os.Getenv("OSCCR_NODE_USER")
		if name == "" {
			name = localnode.DefaultRunAsUser
		}
		u, err := user.Lookup(name)
		if err != nil {
			t.Fatalf("PostgreSQL refuses to run as root and user %q does not exist (useradd --system --no-create-home %s): %v", name, name, err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	p.dataDir = filepath.Join(base, "data")

	// The password: one file for initdb (readable by its account), one for the test's clients.
	password := fmt.Sprintf("pw-%d-%d", os.Getpid(), time.Now().UnixNano())
	initPw := filepath.Join(base, "initdb-pw")
	p.PasswordFile = filepath.Join(t.TempDir(), "pg-password")
	for _, f := range []string{initPw, p.PasswordFile} {
		if err := os.WriteFile(f, []byte(password+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if p.cred != nil {
		for _, f := range []string{base, initPw} {
			if err := os.Chown(f, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	initdb := p.command("initdb", "-D", p.dataDir, "-U", p.User, "--pwfile="+initPw, "--auth=scram-sha-256", "-E", "UTF8", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	_ = os.Remove(initPw)

	free, err := ports.Free("127.0.0.1", 1)
	if err != nil {
		t.Fatal(err)
	}
	p.Port = free[0]
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: p.cred}
	return cmd
}

// URL is the --temporal-db URL of database db (without the password).
func (p *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", p.User, p.Port, db)
}

// Start starts PostgreSQL on its data directory and waits until it accepts connections.
func (p *Postgres) Start() {
	p.t.Helper()
	p.cmd = p.command("postgres", "-D", p.dataDir, "-p", strconv.Itoa(p.Port), "-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+filepath.Dir(p.dataDir), "-c", "fsync=off", "-c", "max_connections=200")
	logFile, err := os.OpenFile(filepath.Join(filepath.Dir(p.dataDir), "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start postgres: %v", err)
	}
	_ = logFile.Close()
	exited := make(chan struct{})
	p.exited = exited
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); close(exited) }(p.cmd)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		ready := p.command("pg_isready", "-h", "127.0.0.1", "-p", strconv.Itoa(p.Port), "-U", p.User, "-d", "postgres")
		if err := ready.Run(); err == nil {
			return
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(filepath.Dir(p.dataDir), "postgres.log"))
			p.t.Fatalf("postgres exited at start:\n%s", log)
		case <-ctx.Done():
			p.t.Fatalf("postgres on port %d not ready within 30 s", p.Port)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops PostgreSQL by its pid (fast shutdown: SIGINT, then SIGKILL after 20 s) and waits
// for it to exit. Stopping a stopped server does nothing.
func (p *Postgres) Stop() {
	if p.cmd == nil {
		return
	}
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-p.exited:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	p.cmd = nil
}

// Accepting reports whether PostgreSQL accepts TCP connections now.
func (p *Postgres) Accepting() bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)), time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}
