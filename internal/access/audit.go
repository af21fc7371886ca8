package access

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Outcomes of an audited request.
const (
	// OutcomeAccepted: the control plane took the request (its work may go on in a workflow).
	OutcomeAccepted = "accepted"
	// OutcomeRefused: refused before anything changed (authentication, role, Host, Origin,
	// throttle, or the application layer's refusal of bad input or a conflict).
	OutcomeRefused = "refused"
	// OutcomeFailed: taken, but it failed (the control plane could not be reached, an internal
	// error).
	OutcomeFailed = "failed"
)

// Record is the audit record of one state-changing request: who, what, when, and the outcome.
// It never holds a token, a password or a request body. The same type serves any other trail
// of who did what to a service (a service's timeline).
type Record struct {
	Time time.Time `json:"time"`
	// Actor is the token's name ("" when no valid token came); Role its role.
	Actor string `json:"actor"`
	Role  string `json:"role,omitempty"`
	// Via is the door the request came through: "api", "console", or "cli" (whose Actor is its
	// Temporal client identity).
	Via string `json:"via"`
	// Action is what was asked, e.g. "POST /v1/project/{project}/service/{service}/promote";
	// Service the service it names, if any.
	Action  string `json:"action"`
	Service string `json:"service,omitempty"`
	Path    string `json:"path,omitempty"`
	Outcome string `json:"outcome"`
	Status  int    `json:"status,omitempty"`
	// Rule names the access rule that refused it (authentication, role, host, origin,
	// throttle); Reason is the refusal or failure as its answer said it.
	Rule   string `json:"rule,omitempty"`
	Reason string `json:"reason,omitempty"`
	Remote string `json:"remote,omitempty"`
}

// Outcome is the outcome of an answer with this HTTP status.
func Outcome(status int) string {
	switch {
	case status < 400:
		return OutcomeAccepted
	case status < 500:
		return OutcomeRefused
	}
	return OutcomeFailed
}

// Auditor receives audit records.
type Auditor interface {
	Audit(Record)
}

// Log is an append-only JSON-lines audit log: one Record a line, written whole under a lock to a
// file opened O_APPEND (0600), never truncated nor rewritten by osccr.
type Log struct {
	mu   sync.Mutex
	f    *os.File
	path string
	// OnError is told when a record cannot be written (nil: the error is kept for Err).
	OnError func(error)
	err     error
}

// OpenLog opens (creating it and its directory) the audit log at path.
func OpenLog(path string) (*Log, error) {
	// The directory is searchable by all (it may be the state dir, which the nodes' account
	// must cross); the log itself is the owner's alone.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("audit log %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log %s: %w", path, err)
	}
	return &Log{f: f, path: path}, nil
}

// Path is where the log is.
func (l *Log) Path() string { return l.path }

// Audit appends one record.
func (l *Log) Audit(r Record) {
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	line, err := json.Marshal(r)
	if err == nil {
		line = append(line, '\n')
		l.mu.Lock()
		_, err = l.f.Write(line)
		l.mu.Unlock()
	}
	if err != nil {
		err = fmt.Errorf("audit log %s: %w", l.path, err)
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
		if l.OnError != nil {
			l.OnError(err)
		}
	}
}

// Err is the last write error.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Close closes the file.
func (l *Log) Close() error { return l.f.Close() }

// Discard is an Auditor that keeps nothing.
type Discard struct{}

// Audit drops r.
func (Discard) Audit(Record) {}

// Memory is an Auditor that keeps records in memory (tests).
type Memory struct {
	mu      sync.Mutex
	records []Record
}

// Audit keeps r.
func (m *Memory) Audit(r Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records = append(m.records, r)
}

// Records returns what was kept.
func (m *Memory) Records() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Record(nil), m.records...)
}

// StateChanging reports whether a request's method changes state (everything but GET, HEAD and
// OPTIONS).
func StateChanging(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// StatusWriter remembers the status of the answer written through it, for the audit record.
type StatusWriter struct {
	http.ResponseWriter
	Status int
}

// WriteHeader records the first status written.
func (w *StatusWriter) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records 200 when no status was written before.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
