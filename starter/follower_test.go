package main

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/internal/testcontrol"
)

// TestIntegrationAndFollowerCommands drives the built CLI as a subprocess against a real control
// plane and two real nodes: integration create (refusals, then --wait with plain progress
// lines), integration list and delete, follower status, pause and resume, promote (a script
// without --yes is refused; --dry-run; --yes), service update refusals. The follower replicates
// through the real CCR plugin.
func TestIntegrationAndFollowerCommands(t *testing.T) {
	d := testcluster.Distribution(t)
	testcluster.RequireCCR(t, d)
	base := testcluster.Dir(t)
	plane := testcontrol.Start(t, base)
	bin := buildCLI(t)
	run := func(args ...string) (string, int) {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"--temporal-address", plane.Endpoint.HostPort}, args...)...).CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return string(out), exit.ExitCode()
		}
		if err != nil {
			t.Fatalf("run %v: %v", args, err)
		}
		return string(out), 0
	}
	expect := func(wantCode int, want string, args ...string) string {
		t.Helper()
		out, code := run(args...)
		if code != wantCode || !strings.Contains(out, want) {
			t.Errorf("osccr %s: exit %d, want %d with %q\n%s", strings.Join(args, " "), code, wantCode, want, out)
		}
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	for _, name := range []string{"cli-ldr", "cli-dst"} {
		expect(0, "PROVISIONING", "service", "create", name, "--plan", "business-4", "--security", "none")
		t.Cleanup(func() { run("service", "delete", name, "--yes") }) // cli-dst first: cli-ldr leads it
	}
	client := func(name string) *opensearch.Client {
		st, err := plane.Control.WaitService(ctx, name, nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := opensearch.New(opensearch.Config{URLs: []string{st.Endpoints.HTTPURL}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	lc, dc := client("cli-ldr"), client("cli-dst")
	oneShard := map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}}
	for c, index := range map[*opensearch.Client]string{lc: "orders", dc: "stale"} {
		if err := c.CreateIndex(ctx, index, oneShard); err != nil {
			t.Fatal(err)
		}
	}
	if err := lc.IndexDocument(ctx, "orders", "1", map[string]any{"n": 1}, opensearch.WithRefresh()); err != nil {
		t.Fatal(err)
	}

	// follower create --dry-run: every check of the preflight, nothing created.
	out := expect(0, "indexes of cli-ldr without soft deletes: none", "follower", "create", "cli-ldr", "--name", "cli-dry", "--dry-run")
	if strings.Contains(out, "FAIL") || strings.Count(out, "\nok ")+1 != 8 || !strings.Contains(out, "a local follower would run 2.19.4") {
		t.Errorf("follower create --dry-run: want 8 checks passed\n%s", out)
	}
	expect(exitRefused, "no service cli-dry", "service", "show", "cli-dry")

	const ccr = control.IntegrationTypeCCR
	expect(exitUsage, `osccr supports "opensearch_cross_cluster_replication"`, "integration", "create", "--integration-type", "logs", "--source", "cli-ldr", "--dest", "cli-dst")
	expect(exitRefused, "holds user indexes (stale)", "integration", "create", "--integration-type", ccr, "--source", "cli-ldr", "--dest", "cli-dst")
	if err := dc.DeleteIndex(ctx, "stale"); err != nil {
		t.Fatal(err)
	}
	out, code := run("integration", "create", "--integration-type", ccr, "--source", "cli-ldr", "--dest", "cli-dst", "--wait")
	t.Logf("osccr integration create --wait:\n%s", out)
	if !strings.Contains(out, "integration ccr.cli-ldr.cli-dst: cli-dst now follows cli-ldr (REBUILDING)") {
		t.Fatalf("integration create --wait: exit %d\n%s", code, out)
	}
	// Not a terminal: plain progress lines, no bar.
	if code != 0 || !strings.Contains(out, "RUNNING at http://127.0.0.1:") || strings.Contains(out, "\r") {
		t.Fatalf("integration create --wait: exit %d, want RUNNING with plain lines\n%q", code, out)
	}

	out = expect(0, "ccr.cli-ldr.cli-dst", "integration", "list", "-o", "json")
	var integrations []map[string]any
	if json.Unmarshal([]byte(out), &integrations) != nil || len(integrations) != 1 || integrations[0]["source_service"] != "cli-ldr" || integrations[0]["integration_type"] != ccr {
		t.Errorf("integration list -o json:\n%s", out)
	}
	expect(0, "ccr.cli-ldr.cli-dst", "integration", "list", "cli-ldr")
	expect(exitUsage, "promotes its follower, which cannot be undone, and there is no terminal to confirm it: pass --yes", "integration", "delete", "ccr.cli-ldr.cli-dst")
	expect(exitRefused, "it is the leader of cli-dst (RUNNING): delete or promote its followers first", "service", "delete", "cli-ldr", "--yes")
	expect(exitUsage, "ccr.<source>.<dest>", "integration", "delete", "cli-dst", "--yes")

	out = expect(0, `"integration_id": "ccr.cli-ldr.cli-dst"`, "follower", "status", "cli-dst", "-o", "json")
	var status map[string]any
	if err := json.Unmarshal([]byte(out), &status); err != nil {
		t.Fatalf("follower status -o json: %v\n%s", err, out)
	}
	for _, key := range []string{"service", "leader", "state", "indexes", "lag_ops"} {
		if _, ok := status[key]; !ok {
			t.Errorf("follower status -o json lacks %q", key)
		}
	}
	expect(exitRefused, "not a follower", "follower", "status", "cli-ldr")
	indexes, _ := status["indexes"].([]any)
	if len(indexes) != 1 || indexes[0].(map[string]any)["index"] != "orders" || indexes[0].(map[string]any)["leader_checkpoint"] == nil {
		t.Errorf("follower status indexes %v, want orders with checkpoints", status["indexes"])
	}
	expect(0, "LEADER CHECKPOINT", "follower", "status", "cli-dst")
	expect(0, "1 of 1 indexes of cli-dst match cli-ldr", "follower", "verify", "cli-dst")
	expect(exitRefused, "not a follower", "follower", "verify", "cli-ldr")
	expect(0, "PAUSED", "follower", "pause", "cli-dst", "--reason", "maintenance", "--wait")
	expect(0, "operator: maintenance", "follower", "status", "cli-dst", "-o", "table")
	expect(0, "RUNNING", "follower", "resume", "cli-dst", "--wait")

	expect(exitUsage, "pass --yes", "follower", "promote", "cli-dst")
	out = expect(0, "will, irreversibly", "follower", "promote", "cli-dst", "--dry-run")
	if !strings.Contains(out, "orders") {
		t.Errorf("promote --dry-run does not name the index it would stop:\n%s", out)
	}
	expect(0, `"irreversible": true`, "follower", "promote", "cli-dst", "--dry-run", "-o", "json")
	expect(exitRefused, "change the leader's plan instead (osccr service update cli-ldr --plan business-8)", "service", "update", "cli-dst", "--plan", "business-8")
	expect(exitUsage, `unknown plan "gold"`, "service", "update", "cli-ldr", "--plan", "gold")
	expect(exitRefused, "business or premium", "service", "update", "cli-ldr", "--plan", "startup-4")

	// Deleting the integration promotes its follower; a second delete finds no integration.
	expect(0, "integration ccr.cli-ldr.cli-dst deleted: cli-dst promoted: standalone and writable; was a follower of cli-ldr; 1 indexes stopped", "integration", "delete", "ccr.cli-ldr.cli-dst", "--yes")
	expect(exitRefused, "service cli-dst does not follow cli-ldr", "integration", "delete", "ccr.cli-ldr.cli-dst", "--yes")
	expect(0, "cli-dst promoted", "follower", "promote", "cli-dst", "--yes")
	expect(0, "[]", "integration", "list", "cli-ldr", "-o", "json")
}
