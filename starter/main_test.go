package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/osccr/osccr/internal/localnode"
)

// TestExitCodes runs the built CLI as a subprocess: scripts rely on its exit codes and on one
// line on stderr that says what was wrong.
func TestExitCodes(t *testing.T) {
	bin := buildCLI(t)
	closed, err := localnode.FreePort() // nothing listens there: Temporal is unreachable
	if err != nil {
		t.Fatal(err)
	}
	unreachable := "127.0.0.1:" + strconv.Itoa(closed)
	tests := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{[]string{"replicate", "--index", "x"}, exitUsage, "needs --leader-url, --leader-transport, --follower-url"},
		{[]string{"pause"}, exitUsage, "needs --index"},
		{[]string{"status", "--index", "x", "--bogus"}, exitUsage, "flag provided but not defined"},
		{[]string{"no-such-command"}, exitUsage, `no command "no-such-command"`},
		{[]string{"serve"}, exitUsage, "the API needs a bearer token"},
		{[]string{"--temporal-address", unreachable, "status", "--index", "x"}, exitUnreachable, "cannot reach Temporal at " + unreachable},
		{[]string{"--temporal-address", unreachable, "replicate", "--leader-url", "http://127.0.0.1:1", "--leader-transport", "127.0.0.1:2", "--follower-url", "http://127.0.0.1:3", "--index", "x"}, exitUnreachable, "control plane unreachable"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != tt.wantCode {
				t.Fatalf("exit %v, want code %d; stderr: %s", err, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q does not say %q", stderr.String(), tt.wantErr)
			}
		})
	}
}

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

// TestMain removes the CLI that buildCLI built, once every test is done with it.
func TestMain(m *testing.M) {
	code := m.Run()
	if cliPath != "" {
		_ = os.RemoveAll(filepath.Dir(cliPath))
	}
	os.Exit(code)
}

// buildCLI builds the osccr binary once per test run, as users get it.
func buildCLI(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		dir, err := os.MkdirTemp("", "osccr-cli-")
		if err != nil {
			cliErr = err
			return
		}
		cliPath = filepath.Join(dir, "osccr")
		if out, err := exec.Command("go", "build", "-o", cliPath, ".").CombinedOutput(); err != nil {
			cliErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if cliErr != nil {
		t.Fatal(cliErr)
	}
	return cliPath
}
