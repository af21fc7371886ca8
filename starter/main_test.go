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

	"github.com/urfave/cli/v2"

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
		{[]string{"serve"}, exitUsage, "the API needs tokens: give --tokens"},
		{[]string{"follower", "promote", "orders-eu"}, exitUsage, "pass --yes (or --dry-run"},
		{[]string{"follower", "status"}, exitUsage, "needs exactly one NAME argument"},
		{[]string{"integration", "create", "--source", "orders"}, exitUsage, "needs --integration-type, --dest"},
		{[]string{"integration", "list", "a", "b"}, exitUsage, "at most one SERVICE"},
		{[]string{"service", "update", "orders"}, exitUsage, "needs --plan"},
		{[]string{"completion", "tcsh"}, exitUsage, "use bash, zsh or fish"},
		{[]string{"--temporal-address", unreachable, "follower", "status", "orders-eu"}, exitUnreachable, "cannot reach Temporal"},
		{[]string{"--temporal-address", unreachable, "status", "--index", "x"}, exitUnreachable, "cannot reach Temporal at " + unreachable},
		{[]string{"--temporal-tls-cert", "/nonexistent/me.pem", "service", "list"}, exitUsage, "--temporal-tls-cert and --temporal-tls-key go together"},
		{[]string{"--temporal-api-key-file", "/nonexistent/key", "service", "list"}, exitUsage, "--temporal-api-key-file: open /nonexistent/key"},
		{[]string{"--temporal-api-key-env", "OSCCR_TEST_NO_SUCH_VAR", "service", "list"}, exitUsage, "OSCCR_TEST_NO_SUCH_VAR is not set"},
		{[]string{"--temporal-address", unreachable, "--temporal-tls", "service", "list"}, exitUnreachable, "cannot reach Temporal at " + unreachable},
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

// TestHelpExamples: every command's help shows an example of its use.
func TestHelpExamples(t *testing.T) {
	var walk func(path string, cmds []*cli.Command)
	walk = func(path string, cmds []*cli.Command) {
		for _, c := range cmds {
			if c.Name == "help" {
				continue
			}
			name := strings.TrimSpace(path + " " + c.Name)
			if !strings.Contains(c.UsageText, "osccr ") {
				t.Errorf("osccr %s: help has no example (UsageText %q)", name, c.UsageText)
			}
			walk(name, c.Subcommands)
		}
	}
	walk("", app().Commands)
}

// TestCompletion runs the printed completion scripts: bash completes commands, subcommands and
// flags by asking the built CLI; fish gets urfave/cli's generated script.
func TestCompletion(t *testing.T) {
	bin := buildCLI(t)
	out, err := exec.Command(bin, "completion", "fish").Output()
	if err != nil || !strings.Contains(string(out), "complete -c osccr") || !strings.Contains(string(out), "integration") {
		t.Errorf("completion fish: %v\n%s", err, out)
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatalf("bash is needed to check the bash completion: %v", err)
	}
	tests := []struct {
		words []string // what is typed; the last word is being completed
		want  string
	}{
		{[]string{"osccr", "fol"}, "follower"},
		{[]string{"osccr", "follower", "pro"}, "promote"},
		{[]string{"osccr", "integration", "create", "--sou"}, "--source"},
		{[]string{"osccr", "service", "update", "orders", "--pl"}, "--plan"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.words, " "), func(t *testing.T) {
			script := `source <("$OSCCR" completion bash); osccr() { "$OSCCR" "$@"; }; COMP_WORDS=(` + strings.Join(tt.words, " ") +
				`); COMP_CWORD=` + strconv.Itoa(len(tt.words)-1) + `; _osccr_complete; echo "${COMPREPLY[@]}"`
			cmd := exec.Command("bash", "-c", script)
			cmd.Env = append(os.Environ(), "OSCCR="+bin)
			out, err := cmd.CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != tt.want {
				t.Errorf("completions %q (%v), want %q", out, err, tt.want)
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
