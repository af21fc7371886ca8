package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/access"
	"github.com/osccr/osccr/internal/api"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/internal/testcontrol"
	"github.com/osccr/osccr/workflows"
)

// TestAPIPrivilege drives the rules of least privilege through the API on a real control plane
// (its worker applies the secret policy): a password_file of /etc/shadow, of another service's
// generated password, and a password_env of PATH are refused before any workflow of the service
// starts, each naming its rule; a registered cluster's password is never in an answer; a
// delete under termination protection is refused naming the service, and is an admin's only.
// Each request leaves its audit record in the JSON-lines log, which holds no token and no
// password.
func TestAPIPrivilege(t *testing.T) {
	base := testcluster.Dir(t)
	plane := testcontrol.Start(t, base)
	tokensFile := filepath.Join(t.TempDir(), "tokens")
	tokens := map[access.Role]string{}
	var lines []string
	for _, role := range access.Roles() {
		tokens[role] = "tok-" + role.String() + "-9f83c1d2"
		lines = append(lines, access.HashLine(role.String(), role, tokens[role]))
	}
	if err := os.WriteFile(tokensFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	auth, err := access.NewTokens(tokensFile, "")
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(base, "audit", "audit.jsonl")
	audit, err := access.OpenLog(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	srv := httptest.NewServer(api.Handler(plane.Control, api.Config{Tokens: auth, Project: "default", Audit: audit}))
	defer srv.Close()
	call := func(method, path string, role access.Role, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tokens[role])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var e struct{ Message string }
		if json.Unmarshal(raw, &e) == nil && e.Message != "" {
			return resp.StatusCode, e.Message
		}
		return resp.StatusCode, string(raw)
	}
	const svc = "/v1/project/default/service"
	trusted, err := filepath.Abs(filepath.Join(base, "secrets"))
	if err != nil {
		t.Fatal(err)
	}
	generated := filepath.Join(base, "services", "orders", "admin.password")
	register := func(name string, auth map[string]any, protect bool) string {
		raw, _ := json.Marshal(map[string]any{"service_name": name, "plan": "business-4", "url": "https://127.0.0.1:1", "transport_address": "127.0.0.1:1",
			"auth": auth, "termination_protection": protect})
		return string(raw)
	}
	type want struct {
		status          int
		outcome, reason string
	}
	var expected []want // the audit records, in order
	for _, tt := range []struct {
		name string
		auth map[string]any
		msg  string
	}{
		{"/etc/shadow", map[string]any{"username": "osccr", "password_file": "/etc/shadow"},
			"password_file /etc/shadow: the worker reads secret files only under " + trusted + " (rule: trusted directories); move the file there (mode 0600, owned by the worker's account), or start the worker with --trusted-secret-dir naming its directory"},
		{"another service's generated password", map[string]any{"username": "admin", "password_file": generated},
			"password_file " + generated + ": a file of local service orders, whose secrets osccr generates and keeps (rule: generated secrets)"},
		{"PATH", map[string]any{"username": "osccr", "password_env": "PATH"},
			"password_env PATH: the worker reads secrets only from variables named OSCCR_SECRET_* (rule: secret variable prefix); put the password in OSCCR_SECRET_PATH in the worker's environment and name that"},
	} {
		status, msg := call("POST", svc, access.RoleAdmin, register("api-thief", tt.auth, false))
		if status != http.StatusBadRequest || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s: %d %s\nwant 400 saying %q", tt.name, status, msg, tt.msg)
		}
		expected = append(expected, want{http.StatusBadRequest, access.OutcomeRefused, tt.msg})
		plane.NoService(t, "api-thief")
	}

	// A reference the policy accepts; the service is registered, protected.
	pwFile := filepath.Join(trusted, "ext.password")
	const password = "ext-Pa55word-7c1e90"
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	status, msg := call("POST", svc, access.RoleOperator, register("api-ext", map[string]any{"username": "osccr", "password_file": pwFile}, true))
	if status != http.StatusForbidden || !strings.Contains(msg, "registering a cluster (url, transport_address) needs role admin (rule: roles)") {
		t.Errorf("an operator registering: %d %s", status, msg)
	}
	expected = append(expected, want{http.StatusForbidden, access.OutcomeRefused, "needs role admin"})
	if status, msg := call("POST", svc, access.RoleAdmin, register("api-ext", map[string]any{"username": "osccr", "password_file": pwFile}, true)); status != http.StatusAccepted {
		t.Fatalf("register api-ext: %d %s", status, msg)
	}
	expected = append(expected, want{http.StatusAccepted, access.OutcomeAccepted, ""})
	for _, role := range access.Roles() {
		status, body := call("GET", svc+"/api-ext", role, "")
		if status != http.StatusOK || strings.Contains(body, password) || !strings.Contains(body, `"termination_protection":true`) {
			t.Errorf("GET a registered service as %s: %d %s\nwant its user and never its password", role, status, body)
		}
	}

	// A delete under termination protection: an operator may not delete at all; an admin is
	// refused, naming the service.
	if status, msg := call("DELETE", svc+"/api-ext", access.RoleOperator, ""); status != http.StatusForbidden || !strings.Contains(msg, "needs role admin (rule: roles)") {
		t.Errorf("an operator deleting: %d %s", status, msg)
	}
	expected = append(expected, want{http.StatusForbidden, access.OutcomeRefused, "needs role admin"})
	const protected = "service api-ext has termination protection: it cannot be deleted while the protection is on; turn it off first"
	if status, msg := call("DELETE", svc+"/api-ext", access.RoleAdmin, ""); status != http.StatusConflict || !strings.Contains(msg, protected) {
		t.Errorf("delete under termination protection: %d %s", status, msg)
	}
	expected = append(expected, want{http.StatusConflict, access.OutcomeRefused, protected})
	if st, err := plane.Control.GetService(context.Background(), "api-ext"); err != nil || st.State == workflows.StateDeleting {
		t.Errorf("api-ext after a refused delete: %s %v", st.State, err)
	}
	// The protection off (an admin's PUT), then the delete goes ahead.
	if status, msg := call("PUT", svc+"/api-ext", access.RoleOperator, `{"termination_protection":false}`); status != http.StatusForbidden {
		t.Errorf("an operator turning the protection off: %d %s", status, msg)
	}
	expected = append(expected, want{http.StatusForbidden, access.OutcomeRefused, "needs role admin"})
	if status, msg := call("PUT", svc+"/api-ext", access.RoleAdmin, `{"termination_protection":false}`); status != http.StatusOK || msg != "termination protection off" {
		t.Errorf("turn the protection off: %d %s", status, msg)
	}
	if status, body := call("GET", svc+"/api-ext", access.RoleReadOnly, ""); status != http.StatusOK || !strings.Contains(body, `"termination_protection":false`) {
		t.Errorf("GET after the protection is off: %d %s", status, body)
	}
	expected = append(expected, want{http.StatusOK, access.OutcomeAccepted, ""})
	if status, msg := call("DELETE", svc+"/api-ext", access.RoleAdmin, ""); status != http.StatusAccepted {
		t.Errorf("delete once unprotected: %d %s", status, msg)
	}
	expected = append(expected, want{http.StatusAccepted, access.OutcomeAccepted, ""})
	ctxGone, cancelGone := context.WithTimeout(context.Background(), time.Minute)
	defer cancelGone()
	if err := plane.Control.WaitServiceGone(ctxGone, "api-ext"); err != nil {
		t.Errorf("api-ext after its delete: %v", err)
	}

	// The audit log: one record a state-changing request, in order, with the token's name.
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var records []access.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		for _, tok := range tokens {
			if strings.Contains(line, tok) {
				t.Errorf("the audit log holds a token: %s", line)
			}
		}
		if strings.Contains(line, password) {
			t.Errorf("the audit log holds a password: %s", line)
		}
		var r access.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		records = append(records, r)
	}
	if len(records) != len(expected) {
		t.Fatalf("%d audit records, want %d: %+v", len(records), len(expected), records)
	}
	for i, w := range expected {
		r := records[i]
		if r.Status != w.status || r.Outcome != w.outcome || !strings.Contains(r.Reason, w.reason) || r.Actor == "" || r.Via != "api" || r.Time.IsZero() {
			t.Errorf("audit record %d: %+v, want status %d %s saying %q", i, r, w.status, w.outcome, w.reason)
		}
	}
	if info, err := os.Stat(logPath); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode: %v %v", info, err)
	}
}
