package localnode_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/testcluster"
)

func TestSpecValidation(t *testing.T) {
	d := localnode.Distribution{Home: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(d.Home, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.Home, "bin", "opensearch"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec localnode.Spec
		want string
	}{
		{"no dir", localnode.Spec{Cluster: "a"}, "Dir is required"},
		{"bad cluster name", localnode.Spec{Dir: t.TempDir(), Cluster: "Bad Name"}, `cluster name "Bad Name"`},
		{"tiny heap", localnode.Spec{Dir: t.TempDir(), Cluster: "ok", HeapMB: 64}, "heap 64 MB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.Start(context.Background(), tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start() error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestMissingDistribution(t *testing.T) {
	t.Setenv("OSCCR_OPENSEARCH_HOME", t.TempDir())
	if _, err := localnode.DistributionFromEnv(); err == nil || !strings.Contains(err.Error(), "make opensearch") {
		t.Fatalf("DistributionFromEnv() error = %v, want one that says to run make opensearch", err)
	}
}

// TestNodeLifecycle starts a real node, checks that starting it again finds the running node,
// stops it by pid and restarts it on the same ports with its data intact.
func TestNodeLifecycle(t *testing.T) {
	d := testcluster.Distribution(t)
	base := testcluster.Dir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testcluster.StartTimeout)
	defer cancel()

	started := time.Now()
	node, err := d.Start(ctx, localnode.Spec{Dir: filepath.Join(base, "lifecycle"), Cluster: "lifecycle", HeapMB: 256})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { testcluster.Stop(t, node) })
	t.Logf("node healthy after %s (pid %d, %s, transport %s)", time.Since(started).Round(time.Millisecond), node.PID, node.HTTPURL(), node.TransportAddress())

	var root struct {
		ClusterName string `json:"cluster_name"`
		Name        string `json:"name"`
	}
	getJSON(t, node.HTTPURL()+"/", &root)
	if root.ClusterName != "lifecycle" || root.Name != "lifecycle-0" {
		t.Fatalf("node answers as cluster %q node %q, want lifecycle/lifecycle-0", root.ClusterName, root.Name)
	}
	put(t, node.HTTPURL()+"/kept/_doc/1?refresh=true", `{"v":1}`)

	again, err := d.Start(ctx, localnode.Spec{Dir: node.Dir, Cluster: "lifecycle"})
	if err != nil {
		t.Fatalf("second Start: %v", err)
	}
	if again.PID != node.PID || again.HTTPPort != node.HTTPPort {
		t.Fatalf("second Start started a new node (pid %d port %d), want the running one (pid %d port %d)", again.PID, again.HTTPPort, node.PID, node.HTTPPort)
	}

	if _, err := d.Start(ctx, localnode.Spec{Dir: node.Dir, Cluster: "other"}); err == nil {
		t.Fatal("Start with another cluster name on the same directory succeeded, want a refusal")
	}

	restarted, err := d.Restart(ctx, node)
	if err != nil {
		t.Fatalf("Restart: %v", err)
	}
	t.Cleanup(func() { testcluster.Stop(t, restarted) })
	if restarted.PID == node.PID {
		t.Fatalf("Restart kept pid %d, want a new process", node.PID)
	}
	if node.Running() {
		t.Fatalf("old process %d still running after Restart", node.PID)
	}
	if restarted.HTTPPort != node.HTTPPort || restarted.TransportPort != node.TransportPort {
		t.Fatalf("Restart moved ports from %d/%d to %d/%d", node.HTTPPort, node.TransportPort, restarted.HTTPPort, restarted.TransportPort)
	}
	var doc struct {
		Found bool `json:"found"`
	}
	getJSON(t, restarted.HTTPURL()+"/kept/_doc/1", &doc)
	if !doc.Found {
		t.Fatal("document written before the restart is gone")
	}

	found, err := localnode.Find(node.Dir)
	if err != nil || found.PID != restarted.PID {
		t.Fatalf("Find = %+v, %v; want pid %d", found, err, restarted.PID)
	}
	if err := restarted.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if restarted.Running() {
		t.Fatal("node still running after Stop")
	}
}

func getJSON(t *testing.T, url string, into any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatalf("decode %s: %v", url, err)
	}
}

func put(t *testing.T, url, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("PUT %s: %s", url, resp.Status)
	}
}

// TestStartOnTakenPort: a port found free but taken before the node binds it (another test
// package's node, here a listener of the test's own) fails the start with the bind error, and
// the node is started again on new ports.
func TestStartOnTakenPort(t *testing.T) {
	d := testcluster.Distribution(t)
	base := testcluster.Dir(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	calls := 0
	defer localnode.SetFreePort(func() (int, error) {
		calls++
		if calls == 1 {
			return port, nil // the HTTP port: taken
		}
		return localnode.FreePort()
	})()
	ctx, cancel := context.WithTimeout(context.Background(), 2*testcluster.StartTimeout)
	defer cancel()
	node, err := d.Start(ctx, localnode.Spec{Dir: filepath.Join(base, "taken"), Cluster: "taken", HeapMB: 256})
	if err != nil {
		t.Fatalf("Start with its first HTTP port taken: %v", err)
	}
	t.Cleanup(func() { testcluster.Stop(t, node) })
	if node.HTTPPort == port || calls != 4 {
		t.Errorf("node on HTTP port %d (the taken one: %d) after %d ports handed out, want a new port after 4", node.HTTPPort, port, calls)
	}
}
