package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/api"
	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/internal/testcontrol"
)

// TestOpenAPIMatchesRoutes: the committed OpenAPI document describes exactly the operations
// the handler serves, each with the error answers the handler can give.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	var documented, served []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
			for _, status := range []string{"400", "401", "404", "409", "413", "503"} {
				if _, ok := op.Responses[status]; !ok {
					t.Errorf("%s %s documents no %s answer", method, path, status)
				}
			}
		}
	}
	for _, r := range api.Routes() {
		served = append(served, r.Method+" "+r.Pattern)
	}
	slices.Sort(documented)
	slices.Sort(served)
	if !slices.Equal(documented, served) {
		t.Errorf("documented %v\nserved     %v", documented, served)
	}
}

// TestAPI drives the handler over HTTP against a real control plane and a real node.
func TestAPI(t *testing.T) {
	testcluster.Distribution(t)
	base := testcluster.Dir(t)
	plane := testcontrol.Start(t, base)
	srv := httptest.NewServer(api.Handler(plane.Control, api.Config{Token: "s3cret", Project: "acme"}))
	defer srv.Close()

	call := func(method, path, token string, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if json.Unmarshal(raw, &out) != nil {
			var list any
			if json.Unmarshal(raw, &list) != nil {
				t.Fatalf("%s %s answered non-JSON %q", method, path, raw)
			}
		}
		return resp.StatusCode, out
	}
	const svc = "/v1/project/acme/service"
	const integ = "/v1/project/acme/integration"
	errorCases := []struct {
		name, method, path, token, body string
		status                          int
		code, msg                       string
	}{
		{"no token", "GET", svc, "", "", 401, "unauthorized", "bearer token"},
		{"wrong token", "GET", svc, "nope", "", 401, "unauthorized", "bearer token"},
		{"other project", "GET", "/v1/project/other/service", "s3cret", "", 404, "not_found", `no project "other"`},
		{"bad json", "POST", svc, "s3cret", "{", 400, "invalid", "request body"},
		{"unknown field", "POST", svc, "s3cret", `{"service_name":"x1y","plan":"business-4","plna":"typo"}`, 400, "invalid", "unknown field"},
		{"too large", "POST", svc, "s3cret", `{"service_name":"` + strings.Repeat("a", api.MaxBodyBytes) + `"}`, 413, "too_large", "too large"},
		{"invalid name", "POST", svc, "s3cret", `{"service_name":"Bad","plan":"business-4"}`, 400, "invalid", "Bad"},
		{"unknown plan", "POST", svc, "s3cret", `{"service_name":"api-x","plan":"gold"}`, 400, "invalid", "gold"},
		{"unknown service", "GET", svc + "/nobody", "s3cret", "", 404, "not_found", "no service nobody"},
		{"bad role", "GET", svc + "?role=boss", "s3cret", "", 400, "invalid", "role"},
		{"follower of unknown", "POST", svc + "/nobody/follower", "s3cret", `{"service_name":"api-f"}`, 404, "not_found", "unknown"},
		{"no such endpoint", "GET", "/v2/anything", "s3cret", "", 404, "not_found", "openapi.json"},
		{"integration of another type", "POST", integ, "s3cret", `{"integration_type":"logs","source_service":"api-a","dest_service":"api-b"}`, 400, "invalid", `osccr supports "opensearch_cross_cluster_replication"`},
		{"integration with an unknown field", "POST", integ, "s3cret", `{"integration_type":"opensearch_cross_cluster_replication","source":"api-a"}`, 400, "invalid", "unknown field"},
		{"integration dry_run not a boolean", "POST", integ + "?dry_run=maybe", "s3cret", `{"integration_type":"opensearch_cross_cluster_replication","source_service":"api-a","dest_service":"api-b"}`, 400, "invalid", "dry_run"},
		{"integration from an unknown source", "POST", integ, "s3cret", `{"integration_type":"opensearch_cross_cluster_replication","source_service":"nobody","dest_service":"api-b"}`, 404, "not_found", "source service nobody is unknown"},
		{"malformed integration ID", "GET", integ + "/bogus", "s3cret", "", 400, "invalid", "ccr.<source>.<dest>"},
		{"unknown integration", "GET", integ + "/ccr.abc.xyz", "s3cret", "", 404, "not_found", "no integration ccr.abc.xyz"},
		{"delete an unknown integration", "DELETE", integ + "/ccr.abc.xyz", "s3cret", "", 404, "not_found", "no integration"},
		{"integrations of an unknown service", "GET", svc + "/nobody/integration", "s3cret", "", 404, "not_found", "no service nobody"},
		{"replication of an unknown service", "GET", svc + "/nobody/replication", "s3cret", "", 404, "not_found", "no service nobody"},
		{"pause an unknown service", "POST", svc + "/nobody/pause", "s3cret", "", 404, "not_found", "no service nobody"},
		{"resume an unknown service", "POST", svc + "/nobody/resume", "s3cret", "", 404, "not_found", "no service nobody"},
		{"unknown plan", "PATCH", svc + "/nobody", "s3cret", `{"plan":"gold"}`, 400, "invalid", `unknown plan "gold"`},
		{"update with an unknown field", "PATCH", svc + "/nobody", "s3cret", `{"plna":"business-8"}`, 400, "invalid", "unknown field"},
		{"dry_run not a boolean", "POST", svc + "/nobody/promote?dry_run=maybe", "s3cret", "", 400, "invalid", "dry_run"},
	}
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(tt.method, tt.path, tt.token, tt.body)
			if status != tt.status || body["code"] != tt.code || !strings.Contains(fmt.Sprint(body["message"]), tt.msg) {
				t.Fatalf("%s %s = %d %v, want %d %s mentioning %q", tt.method, tt.path, status, body, tt.status, tt.code, tt.msg)
			}
		})
	}
	if status, _ := call("GET", "/openapi.json", "", ""); status != 200 {
		t.Errorf("GET /openapi.json without a token = %d, want 200", status)
	}

	// The main path: create, follow to RUNNING, list, conflict, promote refused, delete.
	if status, body := call("POST", svc, "s3cret", `{"service_name":"api-svc","plan":"business-4","region":"eu-local","security":"none"}`); status != 202 {
		t.Fatalf("create = %d %v", status, body)
	}
	// A test stopped half-way leaves no node: the deletion (a no-op after the test's own) comes
	// before the control plane stops.
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, plane.Control, "api-svc") })
	deadline := time.Now().Add(3 * time.Minute)
	for {
		status, body := call("GET", svc+"/api-svc", "s3cret", "")
		if status == 200 && inner(body, "service")["state"] == "RUNNING" {
			if sv := inner(body, "service"); sv["region"] != "eu-local" || sv["role"] != "standalone" || sv["service_type"] != "opensearch" || sv["service_uri"] == nil {
				t.Errorf("service %v", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("service not RUNNING: %d %v", status, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if status, body := call("GET", svc, "s3cret", ""); status != 200 || !bytes.Contains(mustJSON(body), []byte(`"name":"api-svc"`)) {
		t.Errorf("list = %d %v", status, body)
	}
	if status, body := call("POST", svc, "s3cret", `{"service_name":"api-svc","plan":"business-4"}`); status != 409 || body["code"] != "conflict" {
		t.Errorf("create a taken name = %d %v, want 409", status, body)
	}
	if status, body := call("POST", svc+"/api-svc/promote", "s3cret", ""); status != 409 || !strings.Contains(fmt.Sprint(body["message"]), "only a follower") {
		t.Errorf("promote a standalone service = %d %v, want 409", status, body)
	}
	checkIntegrationAPI(t, call, plane.Control)
	if status, body := call("DELETE", svc+"/api-svc", "s3cret", ""); status != 202 {
		t.Fatalf("delete = %d %v", status, body)
	}
	for deadline = time.Now().Add(time.Minute); ; {
		if status, _ := call("GET", svc+"/api-svc", "s3cret", ""); status == 404 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("service still there a minute after delete")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkIntegrationAPI drives the integration, follower and plan endpoints over a real service
// (api-svc, RUNNING): a registered service over api-svc's own cluster is the source, so that no
// second node is needed (the follower connects to its own cluster as the remote; with no user
// index there is nothing to replicate, so it is RUNNING with or without the CCR plugin).
func checkIntegrationAPI(t *testing.T, call func(method, path, token, body string) (int, map[string]any), ctl *control.Control) {
	t.Helper()
	const svc = "/v1/project/acme/service"
	const integ = "/v1/project/acme/integration"
	msg := func(body map[string]any) string { return fmt.Sprint(body["message"]) }
	for _, r := range []struct{ method, path, want string }{
		{"GET", svc + "/api-svc/replication", "not a follower"},
		{"POST", svc + "/api-svc/pause", "not a follower"},
		{"POST", svc + "/api-svc/resume", "not a follower"},
		{"POST", svc + "/api-svc/promote?dry_run=true", "only a follower"},
	} {
		if status, body := call(r.method, r.path, "s3cret", ""); status != 409 || !strings.Contains(msg(body), r.want) {
			t.Errorf("%s %s on a standalone service = %d %v, want 409 saying %q", r.method, r.path, status, body, r.want)
		}
	}
	if status, body := call("GET", svc+"/api-svc/integration", "s3cret", ""); status != 200 || fmt.Sprint(body["service_integrations"]) != "[]" {
		t.Errorf("integrations of a standalone service = %d %v, want none", status, body)
	}

	ctx := context.Background()
	st, err := ctl.GetService(ctx, "api-svc")
	if err != nil {
		t.Fatal(err)
	}
	oc, err := opensearch.New(opensearch.Config{URLs: []string{st.Endpoints.HTTPURL}})
	if err != nil {
		t.Fatal(err)
	}
	if err := oc.CreateIndex(ctx, "mine", map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}}); err != nil {
		t.Fatal(err)
	}
	register := fmt.Sprintf(`{"service_name":"api-src","plan":"business-4","url":%q,"transport_address":%q}`, st.Endpoints.HTTPURL, st.Endpoints.TransportAddress)
	if status, body := call("POST", svc, "s3cret", register); status != 202 {
		t.Fatalf("register api-src = %d %v", status, body)
	}
	// Refused while api-svc still follows it (a failure half-way); then the test's own deletion
	// of api-svc goes first, and the control plane stops with the test.
	defer call("DELETE", svc+"/api-src", "s3cret", "")
	waitState(t, call, "api-src", "RUNNING")
	checkFollowerDryRun(t, call, st.Endpoints.HTTPURL)
	// An update the API does not wait for still answers the workflow's refusal.
	if status, body := call("POST", svc+"/api-src/recycle-node", "s3cret", ""); status != 409 || !strings.Contains(msg(body), "cannot restart nodes it does not run") {
		t.Errorf("recycle a registered cluster's node = %d %v, want 409", status, body)
	}
	create := `{"integration_type":"opensearch_cross_cluster_replication","source_service":"api-src","dest_service":"api-svc"}`
	if status, body := call("POST", integ, "s3cret", create); status != 409 || !strings.Contains(msg(body), "holds user indexes (mine)") {
		t.Fatalf("integration into a service with an index = %d %v, want 409 listing it", status, body)
	}
	if err := oc.DeleteIndex(ctx, "mine"); err != nil {
		t.Fatal(err)
	}
	// The dry run: the preflight's report on the real clusters, every check, nothing created.
	if status, body := call("POST", integ+"?dry_run=true", "s3cret", create); status != 200 || body["ok"] != true ||
		!strings.Contains(fmt.Sprint(body["checks"]), "follower reaches the leader's transport port") || !strings.Contains(fmt.Sprint(body["checks"]), "api-svc connected to api-src") {
		t.Errorf("integration dry run = %d %v, want 200 with every check passed", status, body)
	}
	if status, body := call("GET", svc+"/api-svc/integration", "s3cret", ""); status != 200 || fmt.Sprint(body["service_integrations"]) != "[]" {
		t.Errorf("integrations after a dry run = %d %v, want none", status, body)
	}
	status, body := call("POST", integ, "s3cret", create)
	if in := inner(body, "service_integration"); status != 201 || in["integration_id"] != "ccr.api-src.api-svc" || in["service_integration_id"] != "ccr.api-src.api-svc" || in["state"] != "REBUILDING" || in["dest_service"] != "api-svc" {
		t.Fatalf("create integration = %d %v, want 201 ccr.api-src.api-svc REBUILDING", status, body)
	}
	waitState(t, call, "api-svc", "RUNNING")
	if status, body := call("GET", integ+"/ccr.api-src.api-svc", "s3cret", ""); status != 200 || inner(body, "service_integration")["source_service"] != "api-src" || inner(body, "service_integration")["state"] != "RUNNING" {
		t.Errorf("get integration = %d %v", status, body)
	}
	for _, path := range []string{integ, svc + "/api-src/integration", svc + "/api-svc/integration"} {
		if status, body := call("GET", path, "s3cret", ""); status != 200 || !bytes.Contains(mustJSON(body), []byte(`"integration_id":"ccr.api-src.api-svc"`)) {
			t.Errorf("GET %s = %d %v, want the integration", path, status, body)
		}
	}
	if status, body := call("DELETE", svc+"/api-src", "s3cret", ""); status != 409 || !strings.Contains(msg(body), "it is the leader of api-svc (RUNNING)") {
		t.Errorf("delete a leader whose follower stays = %d %v, want 409 naming it", status, body)
	}
	if status, body := call("GET", svc+"/api-svc/replication", "s3cret", ""); status != 200 || body["leader"] != "api-src" || body["integration_id"] != "ccr.api-src.api-svc" {
		t.Errorf("replication status = %d %v", status, body)
	}
	if status, body := call("POST", svc+"/api-svc/pause", "s3cret", `{"reason":"api test"}`); status != 202 {
		t.Fatalf("pause = %d %v", status, body)
	}
	waitState(t, call, "api-svc", "PAUSED")
	if status, body := call("POST", svc+"/api-svc/resume", "s3cret", ""); status != 202 {
		t.Fatalf("resume = %d %v", status, body)
	}
	waitState(t, call, "api-svc", "RUNNING")
	if status, body := call("PATCH", svc+"/api-svc", "s3cret", `{"plan":"business-8"}`); status != 409 || !strings.Contains(msg(body), "change the leader's plan instead") {
		t.Errorf("change a follower's plan = %d %v, want 409", status, body)
	}
	if status, body := call("PATCH", svc+"/api-src", "s3cret", `{"plan":"startup-4"}`); status != 409 || !strings.Contains(msg(body), "business or premium") {
		t.Errorf("move a leader to startup = %d %v, want 409", status, body)
	}
	if status, body := call("POST", svc+"/api-svc/promote?dry_run=true", "s3cret", ""); status != 200 || body["irreversible"] != true || body["leader"] != "api-src" {
		t.Errorf("promotion dry run = %d %v", status, body)
	}
	// Deleting the integration promotes the follower, once; promoting again answers the report.
	if status, body := call("DELETE", integ+"/ccr.api-src.api-svc", "s3cret", ""); status != 200 || inner(body, "promotion")["former_leader"] != "api-src" || !strings.Contains(msg(body), "api-svc was promoted") {
		t.Fatalf("delete integration = %d %v, want 200 with the promotion's report", status, body)
	}
	if status, body := call("DELETE", integ+"/ccr.api-src.api-svc", "s3cret", ""); status != 404 {
		t.Errorf("delete integration again = %d %v, want 404", status, body)
	}
	if status, body := call("POST", svc+"/api-svc/promote", "s3cret", ""); status != 200 || body["former_leader"] != "api-src" {
		t.Fatalf("promote = %d %v", status, body)
	}
	// Standalone now: its plan changes on its own, the node restarting with the new heap.
	if status, body := call("PATCH", svc+"/api-svc", "s3cret", `{"plan":"business-8"}`); status != 202 {
		t.Fatalf("change plan = %d %v", status, body)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		status, body := call("GET", svc+"/api-svc", "s3cret", "")
		if status == 200 && inner(body, "service")["plan"] == "business-8" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("plan not business-8: %d %v", status, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if status, body := call("DELETE", svc+"/api-src", "s3cret", ""); status != 202 {
		t.Errorf("delete api-src = %d %v", status, body)
	}
	waitGone(t, call, "api-src")
}

// waitState waits until GET service shows state.
func waitState(t *testing.T, call func(method, path, token, body string) (int, map[string]any), service, state string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		status, body := call("GET", "/v1/project/acme/service/"+service, "s3cret", "")
		if status == 200 && inner(body, "service")["osccr_state"] == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("service %s not %s: %d %v", service, state, status, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitGone waits until a deleted service is gone.
func waitGone(t *testing.T, call func(method, path, token, body string) (int, map[string]any), service string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; {
		if status, _ := call("GET", "/v1/project/acme/service/"+service, "s3cret", ""); status == 404 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("service %s still there a minute after delete", service)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// inner returns the object under key (the Aiven API's envelopes: "service",
// "service_integration"), or nil.
func inner(body map[string]any, key string) map[string]any {
	m, _ := body[key].(map[string]any)
	return m
}

func mustJSON(v any) []byte {
	raw, _ := json.Marshal(v)
	return raw
}

// checkFollowerDryRun: POST .../follower?dry_run=true answers the preflight of the local
// follower it would create on the real leader (api-svc) and creates nothing. A leader whose
// transport port nothing listens on (api-far: api-svc's HTTP URL, a closed port) fails the
// transport check, named with its fix; the request's refusals are the create's, and a taken
// name is refused too.
func checkFollowerDryRun(t *testing.T, call func(method, path, token, body string) (int, map[string]any), httpURL string) {
	t.Helper()
	const svc = "/v1/project/acme/service"
	dryRun := func(leader string) (int, map[string]any) {
		return call("POST", svc+"/"+leader+"/follower?dry_run=true", "s3cret", `{"service_name":"api-dry"}`)
	}
	status, body := dryRun("api-svc")
	if checks := fmt.Sprint(body["checks"]); status != 200 || body["ok"] != true || !strings.Contains(checks, "a local follower would run 2.19.4") ||
		!strings.Contains(checks, "connects to api-svc's transport port") || !strings.Contains(checks, "without soft deletes: none") {
		t.Errorf("follower dry run = %d %v, want 200 with every check passed", status, body)
	}

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	far := closed.Addr().String()
	closed.Close()
	register := fmt.Sprintf(`{"service_name":"api-far","plan":"business-4","url":%q,"transport_address":%q}`, httpURL, far)
	if status, body := call("POST", svc, "s3cret", register); status != 202 {
		t.Fatalf("register api-far = %d %v", status, body)
	}
	defer call("DELETE", svc+"/api-far", "s3cret", "")
	waitState(t, call, "api-far", "RUNNING")
	status, body = dryRun("api-far")
	if checks := fmt.Sprint(body["checks"]); status != 200 || body["ok"] != false || !strings.Contains(checks, "cannot connect to api-far's transport port "+far) ||
		!strings.Contains(checks, "open "+far+" to this machine") {
		t.Errorf("follower dry run of a leader with a closed transport port = %d %v, want ok false naming the port and the fix", status, body)
	}

	for _, c := range []struct {
		body, code, msg string
		status          int
	}{
		{`{"service_name":"api-svc"}`, "invalid", "the leader itself", 400},
		{`{"service_name":"api-src"}`, "conflict", "service api-src already exists", 409},
		{`{"service_name":"api-dry","plan":"startup-4"}`, "invalid", "startup", 400},
	} {
		if status, body := call("POST", svc+"/api-svc/follower?dry_run=true", "s3cret", c.body); status != c.status || body["code"] != c.code || !strings.Contains(fmt.Sprint(body["message"]), c.msg) {
			t.Errorf("follower dry run %s = %d %v, want %d %s %q", c.body, status, body, c.status, c.code, c.msg)
		}
	}
	if status, body := call("GET", svc+"/api-dry", "s3cret", ""); status != 404 {
		t.Errorf("after the dry runs GET api-dry = %d %v, want 404: a dry run creates nothing", status, body)
	}
}
