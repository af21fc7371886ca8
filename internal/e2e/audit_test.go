package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/osccr/osccr/internal/access"
	"github.com/osccr/osccr/internal/api"
	"github.com/osccr/osccr/internal/control"
)

// apiThroughAudit serves the API over ctl with an audit log at logPath and a single admin
// token, GETs each service (the answers go into answers, for the secret scan), posts the
// registration body (refused by the secret policy), and the same with a wrong token; it checks
// the audit log has a record of each state-changing request, and returns its path.
func apiThroughAudit(t *testing.T, ctl *control.Control, logPath, token string, answers map[string][]byte, services []string, refusedRegistration string) string {
	t.Helper()
	audit, err := access.OpenLog(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	srv := httptest.NewServer(api.Handler(ctl, api.Config{Token: token, Project: "default", Audit: audit}))
	defer srv.Close()
	do := func(method, path, tok, body string) (int, []byte) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, raw
	}
	for _, name := range services {
		status, raw := do("GET", "/v1/project/default/service/"+name, token, "")
		if status != http.StatusOK {
			t.Errorf("GET %s: %d %s", name, status, raw)
		}
		answers["GET /service/"+name+" as admin"] = raw
	}
	if status, raw := do("POST", "/v1/project/default/service", token, refusedRegistration); status != http.StatusBadRequest || !strings.Contains(string(raw), "(rule: trusted directories)") {
		t.Errorf("a registration of /etc/shadow: %d %s", status, raw)
	}
	if status, _ := do("POST", "/v1/project/default/service", token+"-wrong", refusedRegistration); status != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d", status)
	}
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rules []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r access.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("audit line %s: %v", sc.Text(), err)
		}
		rules = append(rules, r.Outcome+" "+r.Actor+" "+r.Rule)
	}
	if want := []string{"refused default ", "refused  authentication"}; strings.Join(rules, "|") != strings.Join(want, "|") {
		t.Errorf("audit records %q, want %q", rules, want)
	}
	return logPath
}

// apiGet GETs a path of the API over ctl with a token of the role and returns the answer.
func apiGet(t *testing.T, ctl *control.Control, role access.Role, path string) string {
	t.Helper()
	tokens, err := access.NewTokens(writeTokens(t, role), "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler(ctl, api.Config{Tokens: tokens, Project: "default"}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer e2e-"+role.String())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return string(raw)
}

func writeTokens(t *testing.T, role access.Role) string {
	t.Helper()
	path := t.TempDir() + "/tokens"
	if err := os.WriteFile(path, []byte(access.HashLine("e2e-"+role.String(), role, "e2e-"+role.String())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
