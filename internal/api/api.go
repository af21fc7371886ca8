// Package api is osccr's HTTP API: a thin adapter over the application layer (internal/control),
// like the CLI. It parses requests, checks the bearer token and maps errors to status codes; no
// rule lives here.
package api

import (
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

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
	// Token is the bearer token every request but /openapi.json must carry; empty disables
	// authentication (only with --insecure-dev).
	Token string
	// Project is the one project name this control plane answers for.
	Project string
}

// Route is one operation of the API, as the OpenAPI document must describe it.
type Route struct {
	Method, Pattern string
	handle          func(*server, http.ResponseWriter, *http.Request) error
}

// Routes lists every operation; the OpenAPI test checks the document against it.
func Routes() []Route {
	const p = "/v1/project/{project}"
	return []Route{
		{"GET", p + "/service", (*server).listServices},
		{"POST", p + "/service", (*server).createService},
		{"GET", p + "/service/{service}", (*server).getService},
		{"DELETE", p + "/service/{service}", (*server).deleteService},
		{"POST", p + "/service/{service}/recycle-node", (*server).recycleNode},
		{"GET", p + "/service/{service}/follower", (*server).listFollowers},
		{"POST", p + "/service/{service}/follower", (*server).createFollower},
		{"PATCH", p + "/service/{service}", (*server).updateService},
		{"PUT", p + "/service/{service}", (*server).replaceService},
		{"POST", p + "/service/{service}/promote", (*server).promote},
		{"GET", p + "/service/{service}/replication", (*server).followerStatus},
		{"GET", p + "/service/{service}/replication/verify", (*server).verifyFollower},
		{"POST", p + "/service/{service}/pause", (*server).pauseFollower},
		{"POST", p + "/service/{service}/resume", (*server).resumeFollower},
		{"GET", p + "/service/{service}/integration", (*server).listServiceIntegrations},
		{"GET", p + "/integration", (*server).listIntegrations},
		{"POST", p + "/integration", (*server).createIntegration},
		{"GET", p + "/integration/{integration}", (*server).getIntegration},
		{"DELETE", p + "/integration/{integration}", (*server).deleteIntegration},
		{"GET", p + "/service_types", (*server).listServiceTypes},
		{"GET", p + "/service-types/{service_type}", (*server).getServiceType},
		{"GET", p + "/vpcs", (*server).listVPCs},
		{"GET", p + "/service-types/{service_type}/plans/{plan}", (*server).getServicePlan},
		{"GET", p + "/static-ips", (*server).listStaticIPs},
		{"GET", p + "/service/{service}/tags", (*server).getServiceTags},
		{"PUT", p + "/service/{service}/tags", (*server).replaceServiceTags},
	}
}

type server struct {
	ctl *control.Control
	cfg Config
}

// Handler returns the API over ctl.
func Handler(ctl *control.Control, cfg Config) http.Handler {
	if cfg.Project == "" {
		cfg.Project = "default"
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
	for _, r := range Routes() {
		mux.HandleFunc(r.Method+" "+r.Pattern, s.wrap(r.handle))
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

// wrap authenticates, checks the project, bounds the body and maps the handler's error.
func (s *server) wrap(h func(*server, http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="osccr"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing or wrong bearer token: send Authorization: Bearer <token> (or aivenv1 <token>, as the Aiven client does)")
			return
		}
		if p := r.PathValue("project"); p != s.cfg.Project {
			writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no project %q (this control plane serves %q)", p, s.cfg.Project))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		if err := h(s, w, r); err != nil {
			status, code := classify(err)
			if code == "in_progress" {
				w.Header().Set("Retry-After", "5")
			}
			writeError(w, status, code, err.Error())
		}
	}
}

func (s *server) authorized(r *http.Request) bool {
	if s.cfg.Token == "" {
		return true
	}
	got, ok := authToken(r.Header.Get("Authorization"))
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) == 1
}

// errBadRequest marks a request the API itself cannot read.
var errBadRequest = errors.New("bad request")

func classify(err error) (int, string) {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, "too_large"
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
