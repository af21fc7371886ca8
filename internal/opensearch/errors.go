package opensearch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Sentinel errors say what a failure means, so callers branch with errors.Is instead of reading
// status codes. Every error a Client method returns is an *Error that matches at most one of
// them.
var (
	// ErrNotFound: the index, document, template or other resource does not exist.
	ErrNotFound = errors.New("opensearch: not found")
	// ErrAlreadyExists: the resource exists already. For replication it also means "already in
	// that state": starting replication into an existing index, pausing a paused index, resuming
	// a running one.
	ErrAlreadyExists = errors.New("opensearch: already exists")
	// ErrConflict: a concurrent change won (a document version conflict).
	ErrConflict = errors.New("opensearch: conflict")
	// ErrBlocked: an index or cluster block refused the request, for example a follower index
	// refusing writes and metadata changes until replication is stopped, or a read-only index.
	ErrBlocked = errors.New("opensearch: blocked")
	// ErrLeaderUnreachable: a replication call failed because the follower cannot reach the
	// leader cluster (no such remote, connection refused, or the plugin's 5xx answer to a status
	// request while the leader is away). It is usually temporary.
	ErrLeaderUnreachable = errors.New("opensearch: leader cluster unreachable")
	// ErrUnavailable: the cluster itself cannot serve the request now (connection refused,
	// timeout, 502/503/504, no elected cluster manager, rejected execution). Retry later.
	ErrUnavailable = errors.New("opensearch: cluster unavailable")
	// ErrBadRequest: the request is invalid (bad name, bad mapping or setting, malformed body);
	// sending it again will not help.
	ErrBadRequest = errors.New("opensearch: bad request")
	// ErrUnauthorized: the credentials are missing or wrong (401) or lack a permission (403
	// security_exception).
	ErrUnauthorized = errors.New("opensearch: unauthorized")
	// ErrPluginMissing: the cluster has no cross-cluster-replication plugin (it answers "no
	// handler found" for /_plugins/_replication).
	ErrPluginMissing = errors.New("opensearch: cross-cluster-replication plugin not installed")
	// ErrReplicationNotInProgress: pause, resume, stop or update was asked of an index that is
	// not a follower index.
	ErrReplicationNotInProgress = errors.New("opensearch: replication not in progress")
	// ErrRetentionLeaseExpired: replication cannot be resumed because the leader dropped the
	// follower's retention lease (paused for too long); stop, delete the follower index and
	// start again.
	ErrRetentionLeaseExpired = errors.New("opensearch: leader retention lease expired")
)

// Error is a failed OpenSearch call. Op names the call and its subject; Status is the HTTP status
// (0 when no response arrived); Type and Reason are OpenSearch's error type and reason (for
// transport failures Type is "connection_error").
type Error struct {
	Op     string
	Status int
	Type   string
	Reason string

	kind  error // the sentinel this error matches, nil when none does
	cause error // the transport error, when no response arrived
}

// Error reads like `opensearch: start replication of "logs-1": index [logs-1] already exists
// (resource_already_exists_exception)`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("opensearch: ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	switch {
	case e.Reason != "":
		b.WriteString(e.Reason)
	case e.kind != nil:
		b.WriteString(strings.TrimPrefix(e.kind.Error(), "opensearch: "))
	default:
		b.WriteString("failed")
	}
	switch {
	case e.Type != "":
		fmt.Fprintf(&b, " (%s)", e.Type)
	case e.Status != 0:
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	return b.String()
}

// Is reports whether target is the sentinel this error was classified as.
func (e *Error) Is(target error) bool { return e.kind != nil && target == e.kind }

// Unwrap returns the transport error behind a call that got no response (so errors.Is works with
// context.DeadlineExceeded and context.Canceled), or nil.
func (e *Error) Unwrap() error { return e.cause }

// Kind returns the sentinel error this error matches, or nil when it matches none (for example
// an unexpected 500).
func (e *Error) Kind() error { return e.kind }

// api says which API a request belongs to: it decides how some answers are read.
type api int

const (
	apiCore api = iota
	// apiReplication: the CCR plugin's calls, where transport failures concern the leader.
	apiReplication
	// apiReplicationStatus: the plugin's status call, which answers 500 ("failed to fetch
	// replication status") when the leader cannot be asked for its checkpoints.
	apiReplicationStatus
)

// errorBody is OpenSearch's error answer. "error" is an object, or a bare string for "no handler
// found for uri" and a few other early failures.
type errorBody struct {
	Error  json.RawMessage `json:"error"`
	Status int             `json:"status"`
	// Shards is a broadcast action's answer (refresh, flush) when every shard failed: no
	// "error", each shard's failure under _shards.failures, the status that of the first.
	Shards struct {
		Failures []struct {
			Reason errorCause `json:"reason"`
		} `json:"failures"`
	} `json:"_shards"`
}

type errorCause struct {
	Type      string       `json:"type"`
	Reason    string       `json:"reason"`
	RootCause []errorCause `json:"root_cause"`
	CausedBy  *errorCause  `json:"caused_by"`
}

// responseError classifies a non-2xx answer. body is the response body as received.
func responseError(op string, a api, status int, body []byte) *Error {
	e := &Error{Op: op, Status: status}
	var eb errorBody
	var cause errorCause
	if json.Unmarshal(body, &eb) == nil && len(eb.Error) > 0 {
		var msg string
		if json.Unmarshal(eb.Error, &msg) == nil {
			cause.Reason = msg
		} else {
			_ = json.Unmarshal(eb.Error, &cause)
		}
	} else if len(eb.Shards.Failures) > 0 {
		cause = eb.Shards.Failures[0].Reason
	} else if len(body) > 0 && !json.Valid(body) {
		cause.Reason = truncate(strings.TrimSpace(string(body)), 300)
	}
	e.Type, e.Reason = headline(cause)
	e.kind = classify(a, status, cause)
	if e.kind == ErrPluginMissing {
		e.Reason += ": the cross-cluster-replication plugin is not installed"
	}
	return e
}

// headline picks the type and reason worth showing: remote_transport_exception and similar
// wrappers say little, the cause they wrap says what happened.
func headline(c errorCause) (typ, reason string) {
	typ, reason = c.Type, c.Reason
	for cur := &c; cur != nil; cur = cur.CausedBy {
		if !wrapperTypes[cur.Type] && cur.Type != "" {
			return cur.Type, cur.Reason
		}
	}
	return typ, reason
}

var wrapperTypes = map[string]bool{
	"remote_transport_exception": true,
	"transport_exception":        true,
}

// each calls f for the answer, its root causes and its chain of causes.
func (c *errorCause) each(f func(*errorCause)) {
	if c == nil {
		return
	}
	f(c)
	for i := range c.RootCause {
		c.RootCause[i].each(f)
	}
	c.CausedBy.each(f)
}

// transportFailureTypes mean a node could not talk to another over the transport layer. In a
// replication call the other side is the leader; elsewhere it is a node of the same cluster.
var transportFailureTypes = []string{
	"connect_transport_exception",
	"node_disconnected_exception",
	"node_not_connected_exception",
	"receive_timeout_transport_exception",
	"no_seed_node_left_exception",
}

// classify maps an answer to a sentinel. The order matters: the most specific evidence (error
// type and the plugin's messages) wins over the status code.
func classify(a api, status int, c errorCause) error {
	var types []string
	var texts []string // only the text tells some of the plugin's generic exceptions apart
	c.each(func(e *errorCause) {
		types = append(types, e.Type)
		texts = append(texts, e.Reason)
	})
	has := func(want ...string) bool {
		for _, w := range want {
			if slices.Contains(types, w) {
				return true
			}
		}
		return false
	}
	reasons := strings.Join(texts, "\n")

	switch {
	case strings.Contains(reasons, "no handler found for uri [/_plugins/_replication"):
		return ErrPluginMissing
	case has("no_such_remote_cluster_exception"):
		return ErrLeaderUnreachable
	case a != apiCore && has(transportFailureTypes...):
		return ErrLeaderUnreachable
	case strings.Contains(reasons, "failed to fetch replication status"):
		return ErrLeaderUnreachable
	case a != apiCore && strings.Contains(reasons, "Primary shards in the Index") && strings.Contains(reasons, "are not active"):
		// A leader index just created: its primaries start within moments.
		return ErrUnavailable
	case strings.Contains(reasons, "No replication in progress for index"):
		return ErrReplicationNotInProgress
	case strings.Contains(reasons, "Retention lease doesn't exist"):
		return ErrRetentionLeaseExpired
	case strings.Contains(reasons, "Cant use same index again for replication"),
		strings.Contains(reasons, "autofollow replication rule cannot be recreated"):
		return ErrAlreadyExists
	case strings.Contains(reasons, "Autofollow replication rule") && strings.Contains(reasons, "does not exist"):
		return ErrNotFound
	case has("resource_already_exists_exception"):
		return ErrAlreadyExists
	case has("index_not_found_exception", "resource_not_found_exception"):
		return ErrNotFound
	case has("version_conflict_engine_exception"):
		return ErrConflict
	case has("security_exception") || status == http.StatusUnauthorized:
		return ErrUnauthorized
	case has("cluster_block_exception") && status != http.StatusServiceUnavailable:
		return ErrBlocked
	case status == http.StatusForbidden && strings.Contains(reasons, "block"):
		return ErrBlocked
	case has("master_not_discovered_exception", "cluster_manager_not_discovered_exception",
		"rejected_execution_exception", "circuit_breaking_exception", "process_cluster_event_timeout_exception"):
		return ErrUnavailable
	case a == apiReplicationStatus && status == http.StatusInternalServerError:
		// The plugin turns any failure to ask the leader for its checkpoints into a 500.
		return ErrLeaderUnreachable
	case has(transportFailureTypes...):
		return ErrUnavailable
	case status == http.StatusServiceUnavailable, status == http.StatusBadGateway,
		status == http.StatusGatewayTimeout, status == http.StatusTooManyRequests:
		return ErrUnavailable
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return ErrUnauthorized
	case status == http.StatusNotFound:
		return ErrNotFound
	case status == http.StatusConflict:
		return ErrConflict
	case status == http.StatusBadRequest, status == http.StatusMethodNotAllowed,
		status == http.StatusRequestEntityTooLarge, status == http.StatusNotAcceptable,
		status == http.StatusUnsupportedMediaType:
		return ErrBadRequest
	}
	return nil
}

// transportError classifies a call that got no HTTP answer: the cluster is unreachable (or the
// caller gave up, which errors.Is still tells through Unwrap).
func transportError(op string, err error) *Error {
	e := &Error{Op: op, Type: "connection_error", Reason: err.Error(), kind: ErrUnavailable, cause: err}
	if errors.Is(err, context.Canceled) {
		e.kind = nil // the caller stopped waiting: nothing is known about the cluster
	}
	return e
}

// requestError reports a request the client refused to send.
func requestError(op, reason string) *Error {
	return &Error{Op: op, Type: "invalid_request", Reason: reason, kind: ErrBadRequest}
}

// decodeError reports an answer that is not the JSON the client expects.
func decodeError(op string, status int, err error, body []byte) *Error {
	return &Error{Op: op, Status: status, Type: "decode_error",
		Reason: fmt.Sprintf("unexpected answer (%v): %s", err, truncate(string(body), 200))}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
