package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osccr/osccr/internal/access"
	"github.com/osccr/osccr/internal/control"
)

// roleTokens writes a tokens file with one token of each role, named after it, and returns the
// authenticator and each role's token.
func roleTokens(t *testing.T) (*access.Tokens, map[access.Role]string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "tokens")
	tokens := map[access.Role]string{}
	var lines []string
	for _, role := range access.Roles() {
		tokens[role] = "token-of-" + role.String()
		lines = append(lines, access.HashLine(role.String()+"-user", role, tokens[role]))
	}
	if err := os.WriteFile(file, []byte("# test tokens\n"+strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	auth, err := access.NewTokens(file, "")
	if err != nil {
		t.Fatal(err)
	}
	return auth, tokens
}

// TestEveryRoleOnEveryRoute requests every route of Routes() (so a new route is covered, and
// one without a role panics at build) with each role's token, no token and a wrong one: a role
// below the route's is refused 403 naming both roles, one at or above it reaches the handler
// (stubbed here: the rules are the wrapper's), and every state-changing request leaves one
// audit record with the token's name, never the token.
func TestEveryRoleOnEveryRoute(t *testing.T) {
	tokens, byRole := roleTokens(t)
	audit := &access.Memory{}
	routes := Routes()
	for i := range routes {
		routes[i].handle = func(_ *server, w http.ResponseWriter, r *http.Request) error {
			writeJSON(w, 299, map[string]string{"reached": r.Method + " " + r.URL.Path})
			return nil
		}
	}
	h := handler(control.New(nil), Config{Tokens: tokens, Project: "default", Audit: audit}, routes)
	path := func(pattern string) string {
		r := strings.NewReplacer("{project}", "default", "{service}", "orders", "{integration}", "orders-replica", "{service_type}", "opensearch")
		return r.Replace(pattern)
	}
	for _, rt := range Routes() {
		if rt.Role == access.RoleNone {
			t.Errorf("%s %s has no role", rt.Method, rt.Pattern)
		}
		callers := []struct {
			name, auth string
			role       access.Role
		}{{"no token", "", access.RoleNone}, {"a wrong token", "Bearer nope", access.RoleNone}}
		for _, role := range access.Roles() {
			callers = append(callers, struct {
				name, auth string
				role       access.Role
			}{role.String(), "Bearer " + byRole[role], role})
		}
		for _, c := range callers {
			before := len(audit.Records())
			req := httptest.NewRequest(rt.Method, path(rt.Pattern), strings.NewReader("{}"))
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var want int
			var wantMsg, wantRule string
			switch {
			case c.role == access.RoleNone:
				want, wantRule = http.StatusUnauthorized, "authentication"
				wantMsg = "missing or wrong bearer token"
			case c.role < rt.Role:
				want, wantRule = http.StatusForbidden, "roles"
				wantMsg = fmt.Sprintf("token %s-user has role %s; %s %s needs role %s (rule: roles): use a token with that role", c.role, c.role, rt.Method, path(rt.Pattern), rt.Role)
			default:
				want, wantMsg = 299, rt.Method+" "+path(rt.Pattern)
			}
			var body struct{ Message, Reached string }
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != want || !strings.Contains(body.Message+body.Reached, wantMsg) {
				t.Errorf("%s %s as %s: %d %s, want %d saying %q", rt.Method, rt.Pattern, c.name, rec.Code, rec.Body.String(), want, wantMsg)
			}
			records := audit.Records()[before:]
			if rt.Method == http.MethodGet && want != http.StatusUnauthorized && want != http.StatusForbidden {
				if len(records) != 0 {
					t.Errorf("%s %s as %s: a read was audited: %+v", rt.Method, rt.Pattern, c.name, records)
				}
				continue
			}
			if len(records) != 1 {
				t.Errorf("%s %s as %s: %d audit records, want 1", rt.Method, rt.Pattern, c.name, len(records))
				continue
			}
			r := records[0]
			wantActor, wantOutcome := "", access.OutcomeRefused
			if c.role != access.RoleNone {
				wantActor = c.role.String() + "-user"
			}
			if want == 299 {
				wantOutcome = access.OutcomeAccepted
			}
			if r.Actor != wantActor || r.Via != "api" || r.Action != rt.Method+" "+rt.Pattern || r.Outcome != wantOutcome || r.Rule != wantRule || r.Status != want || r.Time.IsZero() {
				t.Errorf("%s %s as %s: audit %+v, want actor %q outcome %s rule %q status %d", rt.Method, rt.Pattern, c.name, r, wantActor, wantOutcome, wantRule, want)
			}
			raw, _ := json.Marshal(r)
			for _, tok := range byRole {
				if strings.Contains(string(raw), tok) {
					t.Errorf("the audit record holds a token: %s", raw)
				}
			}
		}
	}
}

// TestRegistrationNeedsAdmin: POST /service is an operator's route, but registering a cluster
// through it (url, transport_address) is an admin's.
func TestRegistrationNeedsAdmin(t *testing.T) {
	tokens, byRole := roleTokens(t)
	audit := &access.Memory{}
	h := Handler(control.New(nil), Config{Tokens: tokens, Project: "default", Audit: audit})
	req := httptest.NewRequest("POST", "/v1/project/default/service", strings.NewReader(`{"service_name":"ext","plan":"business-4","url":"https://ext.example:9200","transport_address":"ext.example:9300"}`))
	req.Header.Set("Authorization", "Bearer "+byRole[access.RoleOperator])
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	const want = "token operator-user has role operator; registering a cluster (url, transport_address) needs role admin (rule: roles): use a token with that role"
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), want) {
		t.Errorf("an operator registering: %d %s", rec.Code, rec.Body.String())
	}
	if r := audit.Records(); len(r) != 1 || r[0].Outcome != access.OutcomeRefused || r[0].Rule != "roles" || r[0].Actor != "operator-user" || !strings.Contains(r[0].Reason, want) {
		t.Errorf("audit: %+v", r)
	}
}

// TestThrottledAPI: after the burst of failed tokens from one address, its requests are
// answered 429 with Retry-After, even with a right token, and audited as throttled.
func TestThrottledAPI(t *testing.T) {
	tokens, byRole := roleTokens(t)
	audit := &access.Memory{}
	h := Handler(control.New(nil), Config{Tokens: tokens, Project: "default", Audit: audit, Throttle: &access.Throttle{Burst: 3, Rate: 0.001, GlobalBurst: 100, GlobalRate: 1}})
	do := func(token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/v1/project/default/service/orders/pause", nil)
		req.RemoteAddr = "192.0.2.7:5000"
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for i := range 3 {
		if rec := do("wrong"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, rec.Code)
		}
	}
	rec := do(byRole[access.RoleAdmin])
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "too many failed sign-ins from this address (rule: sign-in throttle)") {
		t.Errorf("after the burst: %d %s %q", rec.Code, rec.Body.String(), rec.Header().Get("Retry-After"))
	}
	r := audit.Records()
	if last := r[len(r)-1]; last.Rule != "throttle" || last.Status != http.StatusTooManyRequests || last.Actor != "" {
		t.Errorf("throttled audit: %+v", last)
	}
}
