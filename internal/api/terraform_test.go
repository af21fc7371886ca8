package api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/api"
	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/internal/testcontrol"
	"github.com/osccr/osccr/workflows"
)

// terraformProvider is the Aiven Terraform provider the test runs: the official one, built from
// its source tag, kept with the other artifacts no registry here serves.
const terraformProvider = "terraform-provider-aiven_v4.61.0"

// terraformConfig is the configuration the test applies (docs/terraform.md shows it): a leader,
// a service, and the CCR integration that makes the second the leader's follower.
const terraformConfig = `terraform {
  required_providers {
    aiven = { source = "aiven/aiven" }
  }
}

provider "aiven" {} # AIVEN_WEB_URL and AIVEN_TOKEN from the environment

variable "plan" {
  type    = string
  default = "business-8"
}

resource "aiven_opensearch" "orders" {
  project      = "default"
  service_name = "tf-orders"
  plan         = var.plan
  cloud_name   = "local"
}

resource "aiven_opensearch" "orders_eu" {
  project      = "default"
  service_name = "tf-orders-eu"
  plan         = var.plan # a follower is on its leader's plan
  cloud_name   = "local"
}

resource "aiven_service_integration" "orders_ccr" {
  project                  = "default"
  integration_type         = "opensearch_cross_cluster_replication"
  source_service_name      = aiven_opensearch.orders.service_name
  destination_service_name = aiven_opensearch.orders_eu.service_name
}
`

// TestTerraform runs Terraform with the official Aiven provider against osccr's API on a real
// control plane and real nodes: apply (a leader, a service, the CCR integration) ends with the
// follower RUNNING and the leader's documents on it; a plan right after shows no change; a plan
// change in the .tf moves the leader and its follower (updated in parallel) to the new plan, per
// osccr's own state; the three resources imported into a fresh state show no change; the
// integration's removal promotes the follower; destroy removes the rest. It logs each phase's
// wall time and every call the provider made with osccr's answers.
func TestTerraform(t *testing.T) {
	tf := terraformBinary(t)
	providerDir := terraformProviderDir(t)
	testcluster.Distribution(t)
	plane := testcontrol.Start(t, testcluster.Dir(t))
	const token = "tf-s3cret"
	calls := &callLog{}
	srv := httptest.NewServer(calls.wrap(api.Handler(plane.Control, api.Config{Token: token, Project: "default"})))
	defer srv.Close()
	for _, name := range []string{"tf-orders-eu", "tf-orders"} {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			if err := plane.Control.DeleteService(ctx, name); err != nil && !errors.Is(err, control.ErrNotFound) {
				t.Errorf("clean up %s: %v", name, err)
				return
			}
			if err := plane.Control.WaitServiceGone(ctx, name); err != nil && !errors.Is(err, control.ErrNotFound) {
				t.Errorf("clean up %s: %v", name, err)
			}
		})
	}

	dir := t.TempDir()
	cliConfig := filepath.Join(dir, "terraformrc")
	if err := os.WriteFile(cliConfig, fmt.Appendf(nil, "provider_installation {\n  dev_overrides { \"aiven/aiven\" = %q }\n  direct {}\n}\n", providerDir), 0o644); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(terraformConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"TF_CLI_CONFIG_FILE=" + cliConfig, "AIVEN_WEB_URL=" + srv.URL, "AIVEN_TOKEN=" + token, "HOME=" + dir,
		"TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "NO_PROXY=127.0.0.1", "no_proxy=127.0.0.1", "PATH=" + os.Getenv("PATH")}
	var phases []string
	var total time.Duration
	run := func(in, phase string, wantExit int, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, tf, append(args, "-no-color")...)
		cmd.Dir, cmd.Env = in, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		calls.phase(phase)
		began := time.Now()
		err := cmd.Run()
		took := time.Since(began)
		total += took
		phases = append(phases, fmt.Sprintf("%-30s %6.1f s", phase, took.Seconds()))
		exit := 0
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			exit = exitErr.ExitCode()
		} else if err != nil {
			t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		if exit != wantExit {
			t.Fatalf("terraform %s: exit %d, want %d (%s)\n%s\nprovider calls:\n%s", strings.Join(args, " "), exit, wantExit, took.Round(time.Millisecond), out.String(), calls.table())
		}
		return out.String()
	}
	terraform := func(phase string, wantExit int, args ...string) string {
		t.Helper()
		return run(work, phase, wantExit, args...)
	}
	defer func() {
		t.Logf("terraform phases (wall time):\n%s\n%-30s %6.1f s", strings.Join(phases, "\n"), "all terraform phases", total.Seconds())
		t.Logf("provider calls and osccr's answers:\n%s", calls.table())
	}()

	// Apply: both services, then the integration; the provider waits for RUNNING and active.
	terraform("apply", 0, "apply", "-auto-approve", "-input=false")
	ctx := context.Background()
	for _, name := range []string{"tf-orders", "tf-orders-eu"} {
		st, err := plane.Control.GetService(ctx, name)
		if err != nil || st.State != workflows.StateRunning {
			t.Fatalf("%s after apply: %s (%v), want RUNNING", name, st.State, err)
		}
	}
	if st, _ := plane.Control.GetService(ctx, "tf-orders-eu"); st.Role != workflows.RoleFollower || st.Leader != "tf-orders" {
		t.Fatalf("tf-orders-eu after apply: %s of %q, want a follower of tf-orders", st.Role, st.Leader)
	}
	// The leader's documents reach the follower, read over its own endpoint.
	leader, follower := openSearch(t, apiService(t, srv.URL, token, "tf-orders")), openSearch(t, apiService(t, srv.URL, token, "tf-orders-eu"))
	if err := leader.IndexDocument(ctx, "orders", "1", map[string]any{"item": "book"}, opensearch.WithRefresh()); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		n, err := follower.Count(ctx, "orders")
		if err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the follower's orders index: %d documents (%v), want the leader's 1", n, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Right after apply, nothing to change.
	terraform("plan (no change)", 0, "plan", "-detailed-exitcode", "-input=false")

	// A plan change in the .tf: Terraform updates the leader and its follower in parallel. The
	// leader's update moves its follower first, then itself; the follower's waits for its part
	// of the leader's change (control.ApplyPlan). Both answer once they have the plan. The two
	// plans give a local node the same heap (plan.LocalHeapMB), so no node restarts: the test
	// shows the provider's parallel updates and osccr's answers, not OpenSearch starting again
	// (the recorded leader lifecycle and the e2e tests restart nodes on a plan change).
	planned := strings.Replace(terraformConfig, `default = "business-8"`, `default = "premium-6x-8"`, 1)
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(planned), 0o644); err != nil {
		t.Fatal(err)
	}
	terraform("apply (plan change)", 0, "apply", "-auto-approve", "-input=false")
	for _, name := range []string{"tf-orders", "tf-orders-eu"} {
		st, err := plane.Control.GetService(ctx, name)
		if err != nil || st.Plan != "premium-6x-8" || st.PlanTarget != "" {
			t.Fatalf("%s after the plan change: plan %q, moving to %q (%v); want premium-6x-8, no change under way", name, st.Plan, st.PlanTarget, err)
		}
		waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
		_, err = plane.Control.WaitService(waitCtx, name, nil)
		cancel()
		if err != nil {
			t.Fatalf("%s after the plan change: %v", name, err)
		}
	}
	// A follower asked on its own for a plan its leader does not move to: refused by the rule,
	// once its leader has not started moving within the wait (shortened here).
	short := *plane.Control
	short.PlanLeaderWait = 2 * time.Second
	shortSrv := httptest.NewServer(api.Handler(&short, api.Config{Token: token, Project: "default"}))
	defer shortSrv.Close()
	if status, body := apiPut(t, shortSrv.URL, token, "tf-orders-eu", `{"plan":"business-16"}`); status != http.StatusConflict || !strings.Contains(body, "follower-plan-follows-leader") {
		t.Errorf("PUT tf-orders-eu plan business-16 alone: %d %s; want 409 naming rule follower-plan-follows-leader", status, body)
	}

	// Import: the two services and the integration into a fresh state, then nothing to change.
	imported := filepath.Join(dir, "imported")
	if err := os.MkdirAll(imported, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(imported, "main.tf"), []byte(planned), 0o644); err != nil {
		t.Fatal(err)
	}
	integrations, _ := apiService(t, srv.URL, token, "tf-orders-eu")["service_integrations"].([]any)
	if len(integrations) != 1 {
		t.Fatalf("tf-orders-eu's integrations: %v, want its one", integrations)
	}
	integrationID, _ := integrations[0].(map[string]any)["service_integration_id"].(string)
	for _, imp := range [][2]string{{"aiven_opensearch.orders", "default/tf-orders"}, {"aiven_opensearch.orders_eu", "default/tf-orders-eu"},
		{"aiven_service_integration.orders_ccr", "default/" + integrationID}} {
		run(imported, "import "+strings.SplitN(imp[0], ".", 2)[1], 0, "import", "-input=false", imp[0], imp[1])
	}
	run(imported, "plan (imported, no change)", 0, "plan", "-detailed-exitcode", "-input=false")

	// Removing the integration promotes the follower: it stays, standalone and writable.
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(planned[:strings.Index(planned, `resource "aiven_service_integration"`)]), 0o644); err != nil {
		t.Fatal(err)
	}
	terraform("apply (integration removed)", 0, "apply", "-auto-approve", "-input=false")
	st, err := plane.Control.GetService(ctx, "tf-orders-eu")
	if err != nil || st.Role != workflows.RoleStandalone || st.State != workflows.StateRunning || st.Promotion == nil {
		t.Fatalf("tf-orders-eu after its integration was removed: %s %s (%v), want a RUNNING standalone service with its promotion", st.Role, st.State, err)
	}
	if err := follower.IndexDocument(ctx, "orders", "2", map[string]any{"item": "pen"}); err != nil {
		t.Errorf("write to the promoted tf-orders-eu: %v", err)
	}

	terraform("destroy", 0, "destroy", "-auto-approve", "-input=false")
	for _, name := range []string{"tf-orders", "tf-orders-eu"} {
		if _, err := plane.Control.GetService(ctx, name); !errors.Is(err, control.ErrNotFound) {
			t.Errorf("%s after destroy: %v, want gone", name, err)
		}
	}
}

// terraformBinary is Terraform 1.11.4: on PATH, else /usr/local/bin/terraform. Missing, the
// test fails saying so (no registry here serves it).
func terraformBinary(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("terraform")
	if err != nil {
		path = "/usr/local/bin/terraform"
	}
	out, err := exec.Command(path, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("Terraform is missing (%s: %v): install Terraform 1.11.4 as /usr/local/bin/terraform or on PATH", path, err)
	}
	t.Logf("%s", strings.SplitN(string(out), "\n", 2)[0])
	return path
}

// terraformProviderDir copies the provider from the artifacts folder ($OSCCR_PLUGIN_DIR, where
// the CCR plugin zips are), checked against its SHA256SUMS, into a folder of its own for
// dev_overrides. Missing or altered, the test fails saying so.
func terraformProviderDir(t *testing.T) string {
	t.Helper()
	artifacts := os.Getenv("OSCCR_PLUGIN_DIR")
	if artifacts == "" {
		t.Fatalf("the Aiven Terraform provider: set OSCCR_PLUGIN_DIR to the artifacts folder that holds %s and its SHA256SUMS", terraformProvider)
	}
	raw, err := os.ReadFile(filepath.Join(artifacts, terraformProvider))
	if err != nil {
		t.Fatalf("the Aiven Terraform provider: %v", err)
	}
	sums, err := os.ReadFile(filepath.Join(artifacts, "SHA256SUMS"))
	if err != nil {
		t.Fatalf("the Aiven Terraform provider's checksum: %v", err)
	}
	sum := sha256.Sum256(raw)
	want := ""
	for line := range strings.Lines(string(sums)) {
		if f := strings.Fields(line); len(f) == 2 && strings.TrimPrefix(f[1], "*") == terraformProvider {
			want = f[0]
		}
	}
	if want == "" || want != hex.EncodeToString(sum[:]) {
		t.Fatalf("%s: sha256 %x is not the one SHA256SUMS lists (%q)", terraformProvider, sum, want)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "terraform-provider-aiven"), raw, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// apiPut sends Aiven's service update and returns the status and body of the answer.
func apiPut(t *testing.T, base, token, name, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", base+"/v1/project/default/service/"+name, strings.NewReader(body))
	req.Header.Set("Authorization", "aivenv1 "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// apiService reads one service as the API answers it.
func apiService(t *testing.T, base, token, name string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/project/default/service/"+name, nil)
	req.Header.Set("Authorization", "aivenv1 "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Service map[string]any `json:"service"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET service %s: %d %v", name, resp.StatusCode, err)
	}
	return body.Service
}

// callLog records every request the provider makes and osccr's answer, by phase.
type callLog struct {
	mu      sync.Mutex
	current string
	counts  map[string]int
	// longest is the longest answer of each row.
	longest map[string]time.Duration
}

var serviceInPath = regexp.MustCompile(`/(service|integration)/[^/]+`)

func (l *callLog) phase(p string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.current = p
}

func (l *callLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		began := time.Now()
		h.ServeHTTP(rec, r)
		took := time.Since(began)
		path := serviceInPath.ReplaceAllString(r.URL.Path, "/$1/{$1}")
		key := fmt.Sprintf("%s\t%s %s\t%d %s", l.current, r.Method, path, rec.status, rec.code())
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.counts == nil {
			l.counts, l.longest = map[string]int{}, map[string]time.Duration{}
		}
		l.counts[key]++
		l.longest[key] = max(l.longest[key], took)
	})
}

func (l *callLog) table() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var rows []string
	for k, n := range l.counts {
		rows = append(rows, fmt.Sprintf("%s\tx%d\t%s", k, n, l.longest[k].Round(100*time.Millisecond)))
	}
	sort.Strings(rows)
	return "PHASE\tCALL\tANSWER\tTIMES\tLONGEST\n" + strings.Join(rows, "\n")
}

// statusRecorder keeps the status and the error code of an answer.
type statusRecorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status >= 400 && r.body.Len() < 2048 {
		r.body.Write(b)
	}
	return r.ResponseWriter.Write(b)
}

// code is an error answer's message, shortened.
func (r *statusRecorder) code() string {
	if r.status < 400 {
		return ""
	}
	var e struct {
		Message string `json:"message"`
	}
	_ = json.NewDecoder(bufio.NewReader(&r.body)).Decode(&e)
	if len(e.Message) > 120 {
		e.Message = e.Message[:120] + "..."
	}
	return e.Message
}
