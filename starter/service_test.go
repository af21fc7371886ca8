package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/internal/testcontrol"
)

// TestServiceCommands drives the built CLI as a subprocess against a real control plane (the
// worker with its embedded Temporal) and a real OpenSearch node: create --wait, list and show
// as JSON and tables, delete --yes.
func TestServiceCommands(t *testing.T) {
	testcluster.Distribution(t)
	base := testcluster.Dir(t)
	ep := testcontrol.Start(t, base).Endpoint

	bin := buildCLI(t)
	run := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--temporal-address", ep.HostPort}, args...)...)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return string(out), exit.ExitCode()
		}
		if err != nil {
			t.Fatalf("run %v: %v", args, err)
		}
		return string(out), 0
	}

	// A local service is secured by default: HTTPS, and an admin whose generated password only
	// `service credentials` reveals.
	// The deletion is registered first: a create that fails half-way leaves no node behind.
	t.Cleanup(func() { run("service", "delete", "cli-svc", "--yes") })
	out, code := run("service", "create", "cli-svc", "--plan", "business-4", "--region", "eu-local", "--wait")
	if code != 0 || !strings.Contains(out, "RUNNING at https://127.0.0.1:") {
		t.Fatalf("create --wait: exit %d\n%s", code, out)
	}
	out, code = run("service", "credentials", "cli-svc", "-o", "json")
	var creds struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &creds) != nil || creds.Username != "admin" || len(creds.Password) < 20 {
		t.Errorf("service credentials -o json: exit %d, user %q, %d-character password, want admin and a generated password", code, creds.Username, len(creds.Password))
	}
	if out, code = run("service", "show", "cli-svc"); code != 0 || (creds.Password != "" && strings.Contains(out, creds.Password)) {
		t.Errorf("service show: exit %d, or it shows the password", code)
	}

	out, code = run("service", "show", "cli-svc", "-o", "json")
	var shown map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &shown) != nil {
		t.Fatalf("show -o json: exit %d\n%s", code, out)
	}
	for _, key := range []string{"name", "plan", "cloud", "region", "role", "state", "leader", "followers", "endpoints"} {
		if _, ok := shown[key]; !ok {
			t.Errorf("show -o json lacks %q: %s", key, out)
		}
	}
	if shown["state"] != "RUNNING" || shown["region"] != "eu-local" || shown["role"] != "standalone" {
		t.Errorf("show -o json: %s", out)
	}

	out, code = run("service", "list", "-o", "json")
	var listed []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 1 || listed[0]["name"] != "cli-svc" {
		t.Fatalf("list -o json: exit %d\n%s", code, out)
	}
	if out, code = run("service", "list"); code != 0 || !strings.Contains(out, "cli-svc") || !strings.Contains(out, "business-4") {
		t.Errorf("list table: exit %d\n%s", code, out)
	}

	if out, code = run("service", "create", "cli-svc", "--plan", "business-4"); code != exitRefused || !strings.Contains(out, "is taken") {
		t.Errorf("create a taken name: exit %d, want %d\n%s", code, exitRefused, out)
	}
	if out, code = run("service", "create", "x", "--plan", "business-4"); code != exitUsage || !strings.Contains(out, "3-63") {
		t.Errorf("create an invalid name: exit %d, want %d\n%s", code, exitUsage, out)
	}
	if out, code = run("service", "delete", "cli-svc"); code != exitUsage || !strings.Contains(out, "--yes") {
		t.Errorf("delete without --yes and without a terminal: exit %d, want %d\n%s", code, exitUsage, out)
	}
	if out, code = run("service", "delete", "cli-svc", "--yes"); code != 0 || !strings.Contains(out, "deleted") {
		t.Fatalf("delete --yes: exit %d\n%s", code, out)
	}
	if out, code = run("service", "show", "cli-svc"); code != exitRefused || !strings.Contains(out, "deleted") {
		t.Errorf("show after delete: exit %d\n%s", code, out)
	}
}

// TestServe runs `osccr serve` as a subprocess against a real control plane: it answers the
// API with the bearer token, serves the console beside it, and stops cleanly on SIGTERM.
func TestServe(t *testing.T) {
	ep := testcontrol.Start(t, t.TempDir()).Endpoint
	port, err := localnode.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(buildCLI(t), "--temporal-address", ep.HostPort, "serve", "--listen", addr, "--project", "acme")
	cmd.Env = append(os.Environ(), "OSCCR_API_TOKEN=tok")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/openapi.json")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("osccr serve did not answer within 30s: %v\n%s", err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/v1/project/acme/service", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Services []any `json:"services"`
	}
	err = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if resp.StatusCode != 200 || err != nil || list.Services == nil {
		t.Fatalf("list services = %d %+v (%v)", resp.StatusCode, list, err)
	}
	// The console beside it: a stranger is sent to the sign-in form.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin?next=%2F" {
		t.Errorf("GET / = %d to %q, want 303 to the console's sign-in page", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = noFollow.Get("http://" + addr + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /signin = %d %s, want the sign-in page", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("osccr serve after SIGTERM: %v\n%s", err, out.String())
	}
}
