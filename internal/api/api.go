// Package api is osccr's HTTP API: a thin adapter over the application layer (internal/control),
// like the CLI. It parses requests, checks the bearer token and its role (internal/access),
// audits every state-changing request and maps errors to status codes; no rule of the control
// plane lives here.
package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/osccr/osccr/internal/access"
	"github.com/osccr/osccr/internal/control"
)

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 64 << 10

// OpenAPI is the API's OpenAPI 3 document, served at /openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// Config configures the API.
type Config struct {
	// Tokens authenticates bearer tokens and gives their names and roles; nil with Token ""
	// disables authentication (only with --insecure-dev: every request is then an admin's).
	Tokens *access.Tokens
	// Token is a single admin token named "default" (the API's one token before roles), used
	// when Tokens is nil.
	Token string
	// Project is the one project name this control plane answers for.
	Project string
	// Audit receives the record of every state-changing request; nil keeps none.
	Audit access.Auditor
	// Throttle slows failed authentications; nil does not.
	Throttle *access.Throttle
}

// Route is one operation of the API, as the OpenAPI document must describe it, with the least
// role that may call it.
type Route struct {
	Method, Pattern string
	Role            access.Role
	handle          func(*server, http.ResponseWriter, *http.Request) error
}

// Routes lists every operation; the OpenAPI test checks the document against it, the roles
// test every role against each.
func Routes() []Route {
	const p = "/v1/project/{project}"
	const (
		read  = access.RoleReadOnly
		op    = access.RoleOperator
		admin = access.RoleAdmin
	)
	return []Route{
		{"GET", p + "/service", read, (*server).listServices},
		// Creating a service or a follower is an operator's; registering a cluster (url) an
		// admin's: createService asks for it.
		{"POST", p + "/service", op, (*server).createService},
		{"GET", p + "/service/{service}", read, (*server).getService},
		{"DELETE", p + "/service/{service}", admin, (*server).deleteService},
		{"POST", p + "/service/{service}/recycle-node", op, (*server).recycleNode},
		{"GET", p + "/service/{service}/follower", read, (*server).listFollowers},
		{"POST", p + "/service/{service}/follower", op, (*server).createFollower},
		{"PATCH", p + "/service/{service}", admin, (*server).updateService},
		{"PUT", p + "/service/{service}", admin, (*server).replaceService},
		{"POST", p + "/service/{service}/promote", admin, (*server).promote},
		{"GET", p + "/service/{service}/replication", read, (*server).followerStatus},
		{"GET", p + "/service/{service}/events", read, (*server).serviceEvents},
		{"GET", p + "/service/{service}/replication/verify", op, (*server).verifyFollower},
		{"POST", p + "/service/{service}/pause", op, (*server).pauseFollower},
		{"POST", p + "/service/{service}/resume", op, (*server).resumeFollower},
		{"GET", p + "/service/{service}/integration", read, (*server).listServiceIntegrations},
		{"GET", p + "/integration", read, (*server).listIntegrations},
		{"POST", p + "/integration", admin, (*server).createIntegration},
		{"GET", p + "/integration/{integration}", read, (*server).getIntegration},
		{"DELETE", p + "/integration/{integration}", admin, (*server).deleteIntegration},
		{"GET", p + "/service_types", read, (*server).listServiceTypes},
		{"GET", p + "/service-types/{service_type}", read, (*server).getServiceType},
		{"GET", p + "/vpcs", read, (*server).listVPCs},
		{"GET", p + "/service-types/{service_type}/plans/{plan}", read, (*server).getServicePlan},
		{"GET", p + "/static-ips", read, (*server).listStaticIPs},
		{"GET", p + "/service/{service}/tags", read, (*server).getServiceTags},
		{"PUT", p + "/service/{service}/tags", op, (*server).replaceServiceTags},
	}
}

type server struct {
	ctl *control.Control
	cfg Config
}

// Handler returns the API over ctl. It panics on a route without a role (a programming
// error the roles test also catches).
func Handler(ctl *control.Control, cfg Config) http.Handler {
	return handler(ctl, cfg, Routes())
}

func handler(ctl *control.Control, cfg Config, routes []Route) http.Handler {
	if cfg.Project == "" {
		cfg.Project = "default"
	}
	if cfg.Tokens == nil && cfg.Token != "" {
		tokens, err := access.NewTokens("", cfg.Token)
		if err != nil {
			panic(err) // unreachable: a token is given
		}
		cfg.Tokens = tokens
	}
	if cfg.Audit == nil {
		cfg.Audit = access.Discard{}
	}
	s := &server{ctl: ctl, cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(OpenAPI)
	})
	// A path the API serves with other methods is answered 405 with the methods it allows;
	// any other path 404. (The catch-all below would otherwise answer 404 for both.)
	allowed := map[string][]string{"/openapi.json": {"GET"}}
	for _, r := range routes {
		if r.Role == access.RoleNone {
			panic(fmt.Sprintf("api: route %s %s has no role", r.Method, r.Pattern))
		}
		mux.HandleFunc(r.Method+" "+r.Pattern, s.wrap(r))
		allowed[r.Pattern] = append(allowed[r.Pattern], r.Method)
	}
	byPath := http.NewServeMux()
	for pattern, methods := range allowed {
		slices.Sort(methods)
		list := strings.Join(methods, ", ")
		byPath.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", list)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
				fmt.Sprintf("%s is not allowed on %s; allowed: %s (GET /openapi.json describes the API)", r.Method, r.URL.Path, list))
		})
	}
	byPath.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint; GET /openapi.json describes the API")
	})
	mux.Handle("/", byPath)
	return mux
}

type identityKey struct{}

// identity is the caller of a request that passed wrap.
func identity(r *http.Request) access.Identity {
	id, _ := r.Context().Value(identityKey{}).(access.Identity)
	return id
}

// errForbidden marks a request whose token's role may not do it.
var errForbidden = errors.New("forbidden")

// requireRole refuses a request whose caller's role is below need (for what a route's own role
// does not decide, such as registering a cluster through POST /service).
func requireRole(r *http.Request, need access.Role, what string) error {
	if id := identity(r); !id.Allows(need) {
		return fmt.Errorf("%w: token %s has role %s; %s needs role %s (rule: roles): use a token with that role", errForbidden, id.Name, id.Role, what, need)
	}
	return nil
}

// wrap throttles, authenticates, checks the role and the project, bounds the body, maps the
// handler's error, and audits a state-changing request whatever its outcome.
func (s *server) wrap(rt Route) http.HandlerFunc {
	action := rt.Method + " " + rt.Pattern
	return func(w http.ResponseWriter, r *http.Request) {
		sw := &access.StatusWriter{ResponseWriter: w}
		rec := access.Record{Time: time.Now().UTC(), Via: "api", Action: action, Path: r.URL.Path, Service: r.PathValue("service"), Remote: r.RemoteAddr}
		if rec.Service == "" && r.Method == http.MethodPost && rt.Pattern == "/v1/project/{project}/service" {
			rec.Service = "(named in the body)"
		}
		rule, reason := s.serve(sw, r, rt, &rec)
		if !access.StateChanging(r) && rule == "" {
			return
		}
		rec.Status = sw.Status
		rec.Outcome = access.Outcome(sw.Status)
		rec.Rule = rule
		if rec.Outcome != access.OutcomeAccepted {
			rec.Reason = reason
		}
		s.cfg.Audit.Audit(rec)
	}
}

// serve runs one request; it returns the access rule that refused it, if one did, and the
// refusal or failure's message.
func (s *server) serve(w http.ResponseWriter, r *http.Request, rt Route, rec *access.Record) (rule, reason string) {
	id := access.Anonymous
	if s.cfg.Tokens != nil {
		if ok, retry := s.cfg.Throttle.Allow(r.RemoteAddr); !ok {
			return "throttle", access.Throttled(w, retry)
		}
		got, _ := authToken(r.Header.Get("Authorization"))
		var ok bool
		if id, ok = s.cfg.Tokens.Authenticate(got); !ok {
			s.cfg.Throttle.Fail(r.RemoteAddr)
			msg := "missing or wrong bearer token: send Authorization: Bearer <token> (or aivenv1 <token>, as the Aiven client does)"
			w.Header().Set("WWW-Authenticate", `Bearer realm="osccr"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", msg)
			return "authentication", msg
		}
	}
	rec.Actor, rec.Role = id.Name, id.Role.String()
	if !id.Allows(rt.Role) {
		msg := fmt.Sprintf("token %s has role %s; %s %s needs role %s (rule: roles): use a token with that role", id.Name, id.Role, r.Method, r.URL.Path, rt.Role)
		writeError(w, http.StatusForbidden, "forbidden", msg)
		return "roles", msg
	}
	if p := r.PathValue("project"); p != s.cfg.Project {
		msg := fmt.Sprintf("no project %q (this control plane serves %q)", p, s.cfg.Project)
		writeError(w, http.StatusNotFound, "not_found", msg)
		return "", msg
	}
	r = r.WithContext(context.WithValue(r.Context(), identityKey{}, id))
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if err := rt.handle(s, w, r); err != nil {
		status, code := classify(err)
		if code == "in_progress" {
			w.Header().Set("Retry-After", "5")
		}
		writeError(w, status, code, err.Error())
		if errors.Is(err, errForbidden) {
			return "roles", err.Error()
		}
		return "", err.Error()
	}
	return "", ""
}

// errBadRequest marks a request the API itself cannot read.
var errBadRequest = errors.New("bad request")

func classify(err error) (int, string) {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, errForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, errBadRequest), errors.Is(err, control.ErrInvalid):
		return http.StatusBadRequest, "invalid"
	case errors.Is(err, control.ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, control.ErrConflict):
		return http.StatusConflict, "conflict"
	case errors.Is(err, control.ErrUnreachable):
		return http.StatusServiceUnavailable, "unavailable"
	case errors.Is(err, control.ErrInProgress):
		// A 5xx: the Aiven clients retry it, and the same request waits for the same work.
		return http.StatusServiceUnavailable, "in_progress"
	}
	return http.StatusInternalServerError, "internal"
}

// Error is the body of every error answer: the Aiven API's envelope (message, and errors with
// each one's message and status) with osccr's code.
type Error struct {
	Message string        `json:"message"`
	Code    string        `json:"code"`
	Errors  []ErrorDetail `json:"errors"`
}

// ErrorDetail is one error of an Error; osccr answers one.
type ErrorDetail struct {
	Message   string `json:"message"`
	Status    int    `json:"status"`
	ErrorCode string `json:"error_code"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, Error{Message: msg, Code: code, Errors: []ErrorDetail{{Message: msg, Status: status, ErrorCode: code}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body into v, refusing unknown fields so that a typo is not ignored, and
// anything after the object, so that a second object is not silently dropped.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, next := dec.Token(); next != io.EOF {
			err = next
			if err == nil {
				err = errors.New("the body must be one JSON object, and more follows it")
			}
		}
	}
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooLarge):
		return err
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: request body is empty: send a JSON object (GET /openapi.json describes it)", errBadRequest)
	}
	return fmt.Errorf("%w: request body: %v", errBadRequest, err)
}
