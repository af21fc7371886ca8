package console_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/osccr/osccr/internal/console"
	"github.com/osccr/osccr/internal/control"
)

// These tests need no control plane: every request they make is answered (or refused) before
// the console would ask Temporal, so a Control without a client is enough.

type visitor struct {
	t      *testing.T
	base   string
	client *http.Client
}

func newVisitor(t *testing.T, token string) *visitor {
	t.Helper()
	web, err := console.New(control.New(nil), console.Config{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return &visitor{t: t, base: srv.URL, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (v *visitor) get(path string) (*http.Response, string) {
	v.t.Helper()
	res, err := v.client.Get(v.base + path)
	if err != nil {
		v.t.Fatal(err)
	}
	return res, body(v.t, res)
}

func (v *visitor) post(path string, form url.Values, origin string) (*http.Response, string) {
	v.t.Helper()
	req, err := http.NewRequest(http.MethodPost, v.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		v.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	res, err := v.client.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	return res, body(v.t, res)
}

func (v *visitor) cookie() string {
	u, _ := url.Parse(v.base)
	for _, c := range v.client.Jar.Cookies(u) {
		if c.Name == "osccr_session" {
			return c.Value
		}
	}
	return ""
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF field in the page:\n%s", page)
	}
	return m[1]
}

// signIn signs in through the form and returns the CSRF token of the signed-in session.
func (v *visitor) signIn(token string) string {
	v.t.Helper()
	_, page := v.get("/signin")
	res, _ := v.post("/signin", url.Values{"csrf": {csrfOf(v.t, page)}, "token": {token}, "next": {"/create-service"}}, "")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/create-service" {
		v.t.Fatalf("sign in: %s to %q, want 303 to /create-service", res.Status, res.Header.Get("Location"))
	}
	_, page = v.get("/create-service")
	return csrfOf(v.t, page)
}

func TestSignIn(t *testing.T) {
	const token = "s3cret-token"
	v := newVisitor(t, token)

	// Every page sends a stranger to the sign-in page, remembering where they were going;
	// live JSON answers 401; the assets are public (the sign-in page needs them).
	for _, path := range []string{"/", "/create-service", "/services/orders", "/services/orders/promote"} {
		res, _ := v.get(path)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/signin?next="+url.QueryEscape(path) {
			t.Errorf("GET %s signed out: %s to %q, want 303 to the sign-in page", path, res.Status, res.Header.Get("Location"))
		}
	}
	if res, _ := v.get("/services/orders/live"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("live JSON signed out: %s, want 401", res.Status)
	}
	if res, _ := v.get("/static/console.css"); res.StatusCode != http.StatusOK {
		t.Errorf("GET /static/console.css: %s", res.Status)
	}

	// The sign-in page starts a session that is not signed in; its cookie is HttpOnly,
	// SameSite=Strict and holds a random ID, never the token.
	res, page := v.get("/signin")
	if res.StatusCode != http.StatusOK || !strings.Contains(page, `<label for="token">API token</label>`) {
		t.Fatalf("GET /signin: %s", res.Status)
	}
	set := res.Header.Get("Set-Cookie")
	for _, want := range []string{"osccr_session=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(set, want) {
			t.Errorf("session cookie %q lacks %s", set, want)
		}
	}
	if strings.Contains(set, token) {
		t.Errorf("the session cookie holds the token: %q", set)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	before, csrf := v.cookie(), csrfOf(t, page)

	for _, tt := range []struct {
		name   string
		form   url.Values
		origin string
		status int
		says   string
	}{
		{"no CSRF token", url.Values{"token": {token}}, "", http.StatusForbidden, "expired"},
		{"wrong CSRF token", url.Values{"token": {token}, "csrf": {"wrong"}}, "", http.StatusForbidden, "expired"},
		{"another site", url.Values{"token": {token}, "csrf": {"current"}}, "http://evil.example", http.StatusForbidden, "expired"},
		{"wrong token", url.Values{"token": {"guess"}, "csrf": {"current"}}, "", http.StatusUnauthorized, "not an API token of this control plane"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.form.Get("csrf") == "current" {
				tt.form.Set("csrf", csrf) // the session's token, as the last page gave it
			}
			res, page := v.post("/signin", tt.form, tt.origin)
			if res.StatusCode != tt.status || !strings.Contains(page, tt.says) {
				t.Errorf("%s: want %d saying %q", res.Status, tt.status, tt.says)
			}
			if res, _ := v.get("/"); res.StatusCode != http.StatusSeeOther {
				t.Errorf("after a refused sign-in GET / is %s, want still signed out", res.Status)
			}
			csrf = csrfOf(t, page)
		})
	}

	// The right token: a new session ID (one planted before sign-in is worthless after).
	res, _ = v.post("/signin", url.Values{"token": {token}, "csrf": {csrf}, "next": {"//evil.example/x"}}, v.base)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("sign in: %s to %q, want 303 to / (an off-site next is dropped)", res.Status, res.Header.Get("Location"))
	}
	if after := v.cookie(); after == "" || after == before {
		t.Errorf("session ID not renewed at sign-in (%q, was %q)", after, before)
	}
	planted := &http.Client{CheckRedirect: v.client.CheckRedirect}
	req, _ := http.NewRequest(http.MethodGet, v.base+"/create-service", nil)
	req.AddCookie(&http.Cookie{Name: "osccr_session", Value: before})
	if res, err := planted.Do(req); err != nil || res.StatusCode != http.StatusSeeOther {
		t.Errorf("the pre-sign-in session ID still works: %v %v", res.Status, err)
	}
	res, page = v.get("/create-service")
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "Sign out") {
		t.Fatalf("signed in, GET /create-service: %s", res.Status)
	}

	// Sign out (a form, with its CSRF token) ends the session.
	if res, _ := v.post("/signout", url.Values{}, ""); res.StatusCode != http.StatusForbidden {
		t.Errorf("sign out without CSRF: %s, want 403", res.Status)
	}
	if res, _ := v.post("/signout", url.Values{"csrf": {csrfOf(t, page)}}, ""); res.StatusCode != http.StatusSeeOther {
		t.Errorf("sign out: %s", res.Status)
	}
	if res, _ := v.get("/create-service"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after sign out GET /create-service is %s, want 303 to the sign-in page", res.Status)
	}
}

// TestFormsCSRFAndRefusals: a signed-in form post without its CSRF token, or from another
// site, is refused before anything is asked; a refusal of the application layer is shown
// inline, in its words, with what was typed.
func TestFormsCSRFAndRefusals(t *testing.T) {
	v := newVisitor(t, "tok")
	csrf := v.signIn("tok")
	ctl := control.New(nil)
	invalid := ctl.CreateService(context.Background(), control.CreateServiceRequest{Name: "Bad_Name", Plan: "business-4"})
	if invalid == nil {
		t.Fatal("the application layer accepts Bad_Name")
	}
	want := strings.TrimPrefix(invalid.Error(), control.ErrInvalid.Error()+": ")

	for _, tt := range []struct {
		name   string
		path   string
		form   url.Values
		origin string
		status int
		says   []string
	}{
		{"no CSRF token", "/services", url.Values{"name": {"orders"}, "plan": {"business-4"}}, "", http.StatusForbidden, []string{"expired"}},
		{"another site", "/services", url.Values{"name": {"orders"}, "plan": {"business-4"}, "csrf": {csrf}}, "http://evil.example", http.StatusForbidden, []string{"expired"}},
		{"promote without CSRF", "/services/orders/promote", url.Values{}, "", http.StatusForbidden, []string{"expired"}},
		{"delete without CSRF", "/services/orders/delete", url.Values{"confirm": {"orders"}}, "", http.StatusForbidden, []string{"expired"}},
		{"invalid name", "/services", url.Values{"name": {"Bad_Name"}, "plan": {"business-4"}, "csrf": {csrf}}, "", http.StatusBadRequest,
			[]string{html.EscapeString(want), `value="Bad_Name"`, `role="alert"`}},
		{"disk not a number", "/services", url.Values{"name": {"orders"}, "plan": {"business-4"}, "disk_gb": {"ten"}, "csrf": {csrf}}, "", http.StatusBadRequest,
			[]string{"additional disk &#34;ten&#34; is not a whole number of GB", `value="orders"`}},
		{"unknown plan", "/services", url.Values{"name": {"orders"}, "plan": {"gold"}, "csrf": {csrf}}, "", http.StatusBadRequest, []string{"gold"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, page := v.post(tt.path, tt.form, tt.origin)
			if res.StatusCode != tt.status {
				t.Errorf("%s, want %d", res.Status, tt.status)
			}
			for _, s := range tt.says {
				if !strings.Contains(page, s) {
					t.Errorf("the page does not say %s:\n%s", s, page)
				}
			}
		})
	}
}

// TestInsecureDev: without a token there is no sign-in, but forms still need their CSRF token.
func TestInsecureDev(t *testing.T) {
	v := newVisitor(t, "")
	if res, _ := v.get("/signin"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Errorf("GET /signin with no token: %s to %q, want 303 to /", res.Status, res.Header.Get("Location"))
	}
	res, page := v.get("/create-service")
	if res.StatusCode != http.StatusOK || strings.Contains(page, "Sign out") {
		t.Fatalf("GET /create-service with no token: %s", res.Status)
	}
	if res, _ := v.post("/services", url.Values{"name": {"orders"}, "plan": {"business-4"}}, ""); res.StatusCode != http.StatusForbidden {
		t.Errorf("a form without CSRF with no token: %s, want 403", res.Status)
	}
	if res, _ := v.post("/services", url.Values{"name": {"-x"}, "plan": {"business-4"}, "csrf": {csrfOf(t, page)}}, ""); res.StatusCode != http.StatusBadRequest {
		t.Errorf("an invalid name with no token: %s, want 400 (the application layer's refusal)", res.Status)
	}
}
