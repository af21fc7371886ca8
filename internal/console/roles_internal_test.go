package console

import (
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/osccr/osccr/internal/access"
	"github.com/osccr/osccr/internal/control"
)

// TestEveryRoleOnEveryPage signs in with a token of each role and uses every page and action
// of the console's routes (stubbed: the rules are the wrapper's): a role below the route's is
// refused 403 naming both, one at or above it reaches it, and every action leaves an audit
// record with the token's name.
func TestEveryRoleOnEveryPage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens")
	var lines []string
	for _, role := range access.Roles() {
		lines = append(lines, access.HashLine(role.String()+"-user", role, "token-of-"+role.String()))
	}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := access.NewTokens(file, "")
	if err != nil {
		t.Fatal(err)
	}
	audit := &access.Memory{}
	c, err := New(control.New(nil), Config{Tokens: tokens, Audit: audit})
	if err != nil {
		t.Fatal(err)
	}
	routes := c.routes()
	for i := range routes {
		routes[i].h = func(w http.ResponseWriter, r *http.Request, _ *session) {
			w.WriteHeader(299)
			_, _ = w.Write([]byte("reached " + r.Method + " " + r.URL.Path))
		}
	}
	static, _ := fs.Sub(staticFS, "static")
	if c.mux, err = c.newMux(static, routes); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	defer srv.Close()
	csrfRE := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	for _, role := range access.Roles() {
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := client.Get(srv.URL + "/signin")
		if err != nil {
			t.Fatal(err)
		}
		page := readAll(t, res)
		m := csrfRE.FindStringSubmatch(page)
		if m == nil {
			t.Fatal("no CSRF token on the sign-in page")
		}
		res, err = client.PostForm(srv.URL+"/signin", url.Values{"token": {"token-of-" + role.String()}, "csrf": {m[1]}})
		if err != nil || res.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in as %s: %v %v", role, res.Status, err)
		}
		res.Body.Close()
		// A page's CSRF token, for the actions.
		res, _ = client.Get(srv.URL + "/signin") // the signed-in session's CSRF token
		m = csrfRE.FindStringSubmatch(readAll(t, res))
		if m == nil {
			t.Fatal("no CSRF token on a page")
		}
		for _, rt := range c.routes() {
			method, pattern, _ := strings.Cut(rt.Pattern, " ")
			path := strings.NewReplacer("{name}", "orders", "{$}", "").Replace(pattern)
			before := len(audit.Records())
			var res *http.Response
			if method == http.MethodPost {
				res, err = client.PostForm(srv.URL+path, url.Values{"csrf": {m[1]}, "name": {"orders"}})
			} else {
				res, err = client.Get(srv.URL + path)
			}
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, res)
			want, says := 299, "reached "+method+" "+path
			if role < rt.Role {
				want = http.StatusForbidden
				says = "You are signed in as " + role.String() + "-user, whose role is " + role.String() + "; this needs the " + rt.Role.String() + " role (rule: roles)."
			}
			if res.StatusCode != want || !strings.Contains(body, says) {
				t.Errorf("%s as %s: %d, want %d saying %q", rt.Pattern, role, res.StatusCode, want, says)
			}
			records := audit.Records()[before:]
			if method != http.MethodPost {
				if len(records) != 0 {
					t.Errorf("%s as %s: a page view was audited", rt.Pattern, role)
				}
				continue
			}
			wantOutcome, wantRule := access.OutcomeAccepted, ""
			if want == http.StatusForbidden {
				wantOutcome, wantRule = access.OutcomeRefused, "roles"
			}
			if len(records) != 1 || records[0].Actor != role.String()+"-user" || records[0].Via != "console" || records[0].Outcome != wantOutcome ||
				records[0].Rule != wantRule || records[0].Service != "orders" || records[0].Time.IsZero() {
				t.Errorf("%s as %s: audit %+v, want one %s record of rule %q", rt.Pattern, role, records, wantOutcome, wantRule)
			}
		}
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}
