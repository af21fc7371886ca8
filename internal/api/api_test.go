package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/api"
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
	if status, body := call("POST", svc, "s3cret", `{"service_name":"api-svc","plan":"business-4","region":"eu-local"}`); status != 202 {
		t.Fatalf("create = %d %v", status, body)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		status, body := call("GET", svc+"/api-svc", "s3cret", "")
		if status == 200 && body["state"] == "RUNNING" {
			if body["region"] != "eu-local" || body["role"] != "standalone" {
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

func mustJSON(v any) []byte {
	raw, _ := json.Marshal(v)
	return raw
}
