package testcontrol

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/workflows"
)

// FakeClusterNode is the one node a FakeCluster lists.
const FakeClusterNode = "fake-node-1"

// FakeCluster serves the only calls registering a cluster and watching a registered standalone
// service make (GET /, the node stats, the cluster health), so that a test gets RUNNING
// registered services without starting OpenSearch. Any other call is answered 404 and logged:
// a test that uses it must not reach one. It stops when the test ends.
func FakeCluster(t testing.TB) (httpURL, transportAddress string) {
	t.Helper()
	reply := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/":
			reply(w, 200, map[string]any{"name": FakeClusterNode, "cluster_name": "fake", "cluster_uuid": "fake-uuid",
				"version": map[string]any{"distribution": "opensearch", "number": "2.19.4", "lucene_version": "9.12.2"}})
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/_nodes/stats"):
			reply(w, 200, map[string]any{"nodes": map[string]any{"n1": map[string]any{
				"name": FakeClusterNode, "host": "127.0.0.1", "transport_address": "127.0.0.1:9", "roles": []string{"cluster_manager", "data", "ingest"}}}})
		case r.Method == http.MethodGet && r.URL.Path == "/_cluster/health":
			reply(w, 200, map[string]any{"cluster_name": "fake", "status": "green", "number_of_nodes": 1, "number_of_data_nodes": 1})
		default:
			t.Logf("fake cluster: unexpected %s %s", r.Method, r.URL)
			reply(w, 404, map[string]any{"error": map[string]any{"type": "fake_cluster", "reason": "the fake cluster answers registration only"}, "status": 404})
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, "127.0.0.1:9"
}

// RegisterRunning registers a service over a cluster (a FakeCluster) and waits until it is
// RUNNING.
func (p Plane) RegisterRunning(t testing.TB, name, planName, httpURL, transportAddress string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.Control.RegisterService(ctx, control.RegisterServiceRequest{Name: name, Plan: planName, URL: httpURL, TransportAddress: transportAddress}); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	if _, err := p.Control.WaitService(ctx, name, nil); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
}

// Snapshot describes everything a refused request must leave as it was: every workflow
// execution Temporal knows (ID, run and status, closed ones too), and each live service's role,
// state, reason, plan, leader and followers as its workflow answers them.
func (p Plane) Snapshot(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var lines []string
	var token []byte
	for {
		resp, err := p.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{NextPageToken: token})
		if err != nil {
			t.Fatalf("snapshot: list workflows: %v", err)
		}
		for _, e := range resp.GetExecutions() {
			lines = append(lines, fmt.Sprintf("workflow %s run %s %s", e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId(), e.GetStatus()))
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	services, err := p.Control.ListServices(ctx, "")
	if err != nil {
		t.Fatalf("snapshot: list services: %v", err)
	}
	for _, s := range services {
		st, err := p.Control.GetService(ctx, s.Name)
		if err != nil {
			t.Fatalf("snapshot: service %s: %v", s.Name, err)
		}
		lines = append(lines, fmt.Sprintf("service %s role %s state %s (%s) plan %s leader %q followers %v", st.Name, st.Role, st.State, st.Reason, st.Plan, st.Leader, st.Followers))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// NoService fails the test if a workflow was ever started for a service of this name (the
// visibility store may lag; describing the workflow does not).
func (p Plane) NoService(t testing.TB, name string) {
	t.Helper()
	if name == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := p.Temporal.DescribeWorkflowExecution(ctx, workflows.ServiceWorkflowID(name), "")
	var notFound *serviceerror.NotFound
	if !errors.As(err, &notFound) {
		t.Errorf("a workflow for service %s exists (describe: %v): the refused request started it", name, err)
	}
}
