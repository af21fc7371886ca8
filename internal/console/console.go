// Package console is osccr's web console: the services, their Leader and Follower chips, a
// service's Overview with its "Cross cluster replication" section, "Create follower", a
// follower's "Cross-cluster replica status" and "Promote to standalone". Like the CLI and the
// HTTP API it is an adapter over the application layer (internal/control): it renders pages,
// parses forms and shows the application layer's refusals inline; no rule lives here.
//
// A person signs in with an API token (its name and role then are the session's: a page or an
// action the role may not use is refused, and every action is audited under that name); the
// browser then holds only a random session ID in an HttpOnly, SameSite=Strict cookie, and every
// form carries the session's CSRF token. Pages
// are rendered on the server (html/template); a small script polls a JSON endpoint for live
// state. Every asset is embedded: the console works with no internet.
package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/osccr/osccr/internal/access"
	"github.com/osccr/osccr/internal/control"
)

// Config configures the console.
type Config struct {
	// Tokens are the API tokens a person signs in with; nil with Token "" means no sign-in
	// (--insecure-dev: every session is an admin's).
	Tokens *access.Tokens
	// Token is a single admin token named "default", used when Tokens is nil.
	Token string
	// Audit receives the record of every action (form post); nil keeps none.
	Audit access.Auditor
	// Throttle slows failed sign-ins; nil does not.
	Throttle *access.Throttle
	// TemporalUIURL is the Temporal Web UI's address (e.g. http://127.0.0.1:8233), for links
	// to a service's workflow; empty: no link.
	TemporalUIURL string
	// Namespace is the Temporal namespace the control plane uses, for those links.
	Namespace string
	// Poll is how often a page asks for live state; 2 s when zero.
	Poll time.Duration
	// Logger logs what a person cannot be shown (a page that failed to render); nil discards.
	Logger *slog.Logger
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// maxFormBytes bounds a form post.
const maxFormBytes = 64 << 10

// Console serves the web console.
type Console struct {
	ctl      *control.Control
	cfg      Config
	sessions *sessions
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

// New returns the console over ctl; mount it at "/" (it leaves /v1/ and /openapi.json to the API).
func New(ctl *control.Control, cfg Config) (*Console, error) {
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.TemporalUIURL = strings.TrimRight(cfg.TemporalUIURL, "/")
	if cfg.Tokens == nil && cfg.Token != "" {
		tokens, err := access.NewTokens("", cfg.Token)
		if err != nil {
			return nil, err
		}
		cfg.Tokens = tokens
	}
	if cfg.Audit == nil {
		cfg.Audit = access.Discard{}
	}
	c := &Console{ctl: ctl, cfg: cfg, sessions: newSessions(), pages: map[string]*template.Template{}}
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("console assets: %w", err)
	}
	if c.mux, err = c.newMux(static, c.routes()); err != nil {
		return nil, err
	}
	return c, nil
}

// newMux routes the sign-in, the assets and the given pages and actions.
func (c *Console) newMux(static fs.FS, routes []Route) (*http.ServeMux, error) {
	m := http.NewServeMux()
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /signin", c.signInPage)
	m.HandleFunc("POST /signin", c.signIn)
	m.HandleFunc("POST /signout", c.signOut)
	for _, rt := range routes {
		if rt.Role == access.RoleNone {
			return nil, fmt.Errorf("console: route %s has no role", rt.Pattern)
		}
		m.HandleFunc(rt.Pattern, c.page(rt.Role, rt.h))
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, http.StatusNotFound, "error.html", view{Title: "Not found", Error: "There is no such page."})
	})
	return m, nil
}

// Route is a page or an action of the console and the least role that may use it.
type Route struct {
	Pattern string
	Role    access.Role
	h       handler
}

// Routes lists the console's pages and actions behind a sign-in (the roles test checks each
// role against each).
func (c *Console) Routes() []Route { return c.routes() }

func (c *Console) routes() []Route {
	const (
		read  = access.RoleReadOnly
		op    = access.RoleOperator
		admin = access.RoleAdmin
	)
	return []Route{
		{"GET /{$}", read, c.servicesPage},
		{"GET /live", read, c.servicesLive},
		{"GET /create-service", op, c.newServicePage},
		{"POST /services", op, c.createService},
		{"GET /services/{name}", read, c.overviewPage},
		{"GET /services/{name}/live", read, c.overviewLive},
		{"GET /services/{name}/follower/new", op, c.newFollowerPage},
		{"POST /services/{name}/follower", op, c.createFollower},
		{"GET /services/{name}/promote", admin, c.promotePage},
		{"POST /services/{name}/promote", admin, c.promote},
		{"POST /services/{name}/pause", op, c.pause},
		{"POST /services/{name}/resume", op, c.resume},
		{"GET /services/{name}/delete", admin, c.deletePage},
		{"POST /services/{name}/delete", admin, c.deleteService},
	}
}

// ServeHTTP sets the headers every answer carries, then routes.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	c.mux.ServeHTTP(w, r)
}

// view is what every page template gets; Data is the page's own.
type view struct {
	Title string
	// Auth is true when the console asks for a sign-in (and so shows "Sign out").
	Auth bool
	// SignedIn is true once the session is signed in.
	SignedIn bool
	CSRF     string
	Flash    flash
	// Error is a refusal or failure shown inline, in the application layer's words.
	Error string
	// Live is the JSON endpoint the page polls; Role the service role the page was drawn for
	// (a change reloads the page).
	Live string
	Role string
	Poll int
	Data any
}

// handler is a page or an action: sess is the signed-in session.
type handler func(w http.ResponseWriter, r *http.Request, sess *session)

// page authenticates (redirecting to the sign-in page, or 401 for live JSON), checks the
// session's role and the CSRF token of a form post, runs h, and audits a form post whatever its
// outcome.
func (c *Console) page(need access.Role, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			c.serve(w, r, need, h)
			return
		}
		sw := &access.StatusWriter{ResponseWriter: w}
		res := &outcome{}
		r = r.WithContext(context.WithValue(r.Context(), outcomeKey{}, res))
		c.serve(sw, r, need, h)
		rec := access.Record{Time: time.Now().UTC(), Via: "console", Action: r.Pattern, Path: r.URL.Path, Service: r.PathValue("name"),
			Actor: res.who.Name, Status: sw.Status, Outcome: access.Outcome(sw.Status), Rule: res.rule, Reason: res.reason, Remote: r.RemoteAddr}
		if rec.Service == "" {
			rec.Service = strings.TrimSpace(r.PostFormValue("name"))
		}
		if res.who.Role != access.RoleNone {
			rec.Role = res.who.Role.String()
		}
		if res.rule != "" && rec.Outcome == access.OutcomeAccepted {
			rec.Outcome = access.OutcomeRefused
		}
		if res.err != nil {
			rec.Reason = message(res.err)
			rec.Outcome = access.OutcomeRefused
			if status(res.err) >= 500 {
				rec.Outcome = access.OutcomeFailed
			}
		}
		if rec.Outcome == access.OutcomeAccepted {
			rec.Reason = ""
		}
		c.cfg.Audit.Audit(rec)
	}
}

func (c *Console) serve(w http.ResponseWriter, r *http.Request, need access.Role, h handler) {
	res := outcomeOf(r)
	sess := c.sessions.get(r)
	if sess == nil && c.cfg.Tokens == nil {
		sess = c.sessions.startAs(w, r, true, access.Anonymous)
	}
	if sess == nil || !sess.signedIn {
		res.rule, res.reason = "authentication", "not signed in"
		switch {
		case strings.HasSuffix(r.URL.Path, "/live"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"message":"sign in again"}`))
		case r.Method == http.MethodGet:
			http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		default:
			http.Redirect(w, r, "/signin", http.StatusSeeOther)
		}
		return
	}
	res.who = sess.who
	if !sess.who.Allows(need) {
		msg := fmt.Sprintf("You are signed in as %s, whose role is %s; this needs the %s role (rule: roles). Sign in with a token that has it.", sess.who.Name, sess.who.Role, need)
		res.rule, res.reason = "roles", msg
		c.render(w, r, http.StatusForbidden, "error.html", c.view(sess, "Refused", view{Error: msg}))
		return
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil || !checkCSRF(r, sess) {
			res.rule, res.reason = "csrf", "the form's CSRF token or origin is not this console's"
			c.render(w, r, http.StatusForbidden, "error.html", c.view(sess, "Refused",
				view{Error: "This form has expired or did not come from this console. Go back, reload the page and try again."}))
			return
		}
	}
	h(w, r, sess)
}

// outcome is what an action did, for its audit record: who asked, and the refusal or failure
// (an action that reports it in a flash message answers a redirect, not an error status).
type outcome struct {
	who          access.Identity
	rule, reason string
	err          error
}

type outcomeKey struct{}

func outcomeOf(r *http.Request) *outcome {
	if o, ok := r.Context().Value(outcomeKey{}).(*outcome); ok {
		return o
	}
	return &outcome{}
}

// refused notes an action's refusal or failure for its audit record.
func refused(r *http.Request, err error) {
	if err != nil {
		outcomeOf(r).err = err
	}
}

// view completes v with the session's CSRF token and flash message.
func (c *Console) view(sess *session, title string, v view) view {
	v.Title, v.Auth, v.Poll = title, c.cfg.Tokens != nil, int(c.cfg.Poll/time.Millisecond)
	if sess != nil {
		v.CSRF, v.SignedIn = sess.csrf, sess.signedIn
		if f := c.sessions.takeFlash(sess); f.Text != "" {
			v.Flash = f
		}
	}
	return v
}

func (c *Console) render(w http.ResponseWriter, _ *http.Request, status int, page string, v view) {
	var buf bytes.Buffer
	if err := c.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		c.cfg.Logger.Error("console: render", "page", page, "err", err)
		http.Error(w, "the console could not draw this page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fragment renders one named template of a page (a live region) to a string.
func (c *Console) fragment(page, name string, data any) (string, error) {
	var buf bytes.Buffer
	if err := c.pages[page].ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("render %s %s: %w", page, name, err)
	}
	return buf.String(), nil
}

// status maps an application-layer error to the status its page is answered with.
func status(err error) int {
	switch {
	case errors.Is(err, control.ErrInvalid), errors.Is(err, errBadForm):
		return http.StatusBadRequest
	case errors.Is(err, control.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, control.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, control.ErrUnreachable), errors.Is(err, control.ErrInProgress):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errBadForm marks a form field the console itself cannot read (a disk size that is no number).
var errBadForm = errors.New("bad form")

// message is an error as a person reads it: the application layer's words, without the
// category prefix its callers branch on.
func message(err error) string {
	msg := err.Error()
	for _, prefix := range []error{control.ErrInvalid, control.ErrConflict, control.ErrInProgress, errBadForm} {
		msg = strings.TrimPrefix(msg, prefix.Error()+": ")
	}
	return msg
}

// requestContext bounds a call to the control plane; an action keeps running if the browser
// goes away (a promotion half-asked is worse than one finished).
func requestContext(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), d)
}

// signInPage shows the sign-in form (or goes home when there is nothing to sign in to).
func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Tokens == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	sess := c.sessions.get(r)
	if sess == nil {
		sess = c.sessions.start(w, r, false)
	}
	c.render(w, r, http.StatusOK, "signin.html", c.view(sess, "Sign in", view{Data: signInData{Next: safeNext(r.URL.Query().Get("next"))}}))
}

type signInData struct{ Next string }

// signIn checks the token and starts a signed-in session under a new ID, as the token's name
// and role. A failed sign-in counts against the address's throttle, and is audited.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Tokens == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	audit := func(status int, who access.Identity, rule, reason string) {
		rec := access.Record{Time: time.Now().UTC(), Via: "console", Action: "POST /signin", Path: r.URL.Path, Actor: who.Name, Status: status,
			Outcome: access.Outcome(status), Rule: rule, Reason: reason, Remote: r.RemoteAddr}
		if who.Role != access.RoleNone {
			rec.Role = who.Role.String()
		}
		c.cfg.Audit.Audit(rec)
	}
	if ok, retry := c.cfg.Throttle.Allow(r.RemoteAddr); !ok {
		msg := fmt.Sprintf("Too many failed sign-ins from this address (rule: sign-in throttle): try again in %s.", retry)
		w.Header().Set("Retry-After", fmt.Sprint(int(retry.Seconds())))
		c.render(w, r, http.StatusTooManyRequests, "signin.html", c.view(c.sessions.get(r), "Sign in", view{Error: msg, Data: signInData{Next: "/"}}))
		audit(http.StatusTooManyRequests, access.Identity{}, "throttle", msg)
		return
	}
	sess := c.sessions.get(r)
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil || !checkCSRF(r, sess) {
		sess = c.sessions.start(w, r, false)
		c.render(w, r, http.StatusForbidden, "signin.html", c.view(sess, "Sign in",
			view{Error: "The sign-in form had expired: sign in again.", Data: signInData{Next: safeNext(r.PostFormValue("next"))}}))
		audit(http.StatusForbidden, access.Identity{}, "csrf", "the sign-in form's CSRF token or origin is not this console's")
		return
	}
	next := safeNext(r.PostFormValue("next"))
	who, ok := c.cfg.Tokens.Authenticate(r.PostFormValue("token"))
	if !ok {
		c.cfg.Throttle.Fail(r.RemoteAddr)
		c.render(w, r, http.StatusUnauthorized, "signin.html", c.view(sess, "Sign in",
			view{Error: "That is not an API token of this control plane.", Data: signInData{Next: next}}))
		audit(http.StatusUnauthorized, access.Identity{}, "authentication", "wrong token")
		return
	}
	c.sessions.startAs(w, r, true, who)
	audit(http.StatusSeeOther, who, "", "")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signOut ends the session (a form post with its CSRF token, so no other site can sign a
// person out).
func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	sess := c.sessions.get(r)
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil || !checkCSRF(r, sess) {
		c.render(w, r, http.StatusForbidden, "error.html", c.view(sess, "Refused", view{Error: "This form has expired: reload the page and try again."}))
		return
	}
	c.sessions.end(w, r)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// safeNext keeps a post-sign-in destination on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}
