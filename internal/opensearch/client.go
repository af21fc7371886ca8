// Package opensearch is osccr's typed client for one OpenSearch cluster and its
// cross-cluster-replication (CCR) plugin. It is the only place in osccr that knows REST paths and
// JSON shapes: callers get domain types (model.go) and errors classified by meaning
// (errors.go), one file per API area (cluster, indices, remote clusters, replication,
// templates). All HTTP goes through the opensearch-go transport.
package opensearch

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	osgo "github.com/opensearch-project/opensearch-go/v2"
)

// DefaultTimeout bounds one call when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// redacted stands in for a password wherever a Config is printed.
const redacted = "[REDACTED]"

// Config says how to reach a cluster. Its password never appears in errors, String, GoString,
// slog output or JSON.
type Config struct {
	// URLs are the cluster's REST endpoints, e.g. http://127.0.0.1:9200. Credentials belong in
	// Username and Password, not in the URLs.
	URLs []string
	// Username and Password are for HTTP basic auth; empty means none.
	Username string
	Password string
	// Timeout bounds each call (including the transport's retries on another node); zero means
	// DefaultTimeout and a negative value means no bound beyond the caller's context.
	Timeout time.Duration
	// TLS configures HTTPS: the CAs to trust, a client certificate. Nil means the system's
	// roots and no client certificate.
	TLS *tls.Config
	// ReplicationUsername and ReplicationPassword, when set, sign the replication plugin's calls
	// (_start, _pause, _resume, _stop, _status, autofollow, stats) instead of Username: on a
	// secured cluster the replication runs as the user that started it, with the roles named
	// in use_roles, and that user is the least-privilege replication user, not osccr's own.
	ReplicationUsername string
	ReplicationPassword string
}

// String describes the config with the password redacted.
func (c Config) String() string {
	pw := ""
	if c.Password != "" {
		pw = redacted
	}
	rpw := ""
	if c.ReplicationPassword != "" {
		rpw = redacted
	}
	return fmt.Sprintf("opensearch.Config{URLs: %q, Username: %q, Password: %q, ReplicationUsername: %q, ReplicationPassword: %q, Timeout: %s}",
		c.URLs, c.Username, pw, c.ReplicationUsername, rpw, c.Timeout)
}

// GoString keeps %#v from printing the password.
func (c Config) GoString() string { return c.String() }

// LogValue keeps slog from logging the password.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{slog.Any("urls", c.URLs), slog.String("username", c.Username)}
	if c.Password != "" {
		attrs = append(attrs, slog.String("password", redacted))
	}
	if c.ReplicationUsername != "" {
		attrs = append(attrs, slog.String("replication_username", c.ReplicationUsername))
	}
	if c.ReplicationPassword != "" {
		attrs = append(attrs, slog.String("replication_password", redacted))
	}
	attrs = append(attrs, slog.Duration("timeout", c.Timeout))
	return slog.GroupValue(attrs...)
}

// MarshalJSON writes the config with the password redacted: a Config is never a way to store a
// secret.
func (c Config) MarshalJSON() ([]byte, error) {
	type shown struct {
		URLs     []string `json:"urls"`
		Username string   `json:"username,omitempty"`
		Password string   `json:"password,omitempty"`
		// The replication user, shown like the user.
		ReplicationUsername string        `json:"replication_username,omitempty"`
		ReplicationPassword string        `json:"replication_password,omitempty"`
		Timeout             time.Duration `json:"timeout,omitempty"`
	}
	s := shown{URLs: c.URLs, Username: c.Username, ReplicationUsername: c.ReplicationUsername, Timeout: c.Timeout}
	if c.Password != "" {
		s.Password = redacted
	}
	if c.ReplicationPassword != "" {
		s.ReplicationPassword = redacted
	}
	return json.Marshal(s)
}

// Client calls one OpenSearch cluster. It is safe for concurrent use.
type Client struct {
	os      *osgo.Client
	urls    []string
	user    string
	timeout time.Duration
	// replUser and replPassword sign the replication plugin's calls when replUser is set.
	replUser, replPassword string
}

// New validates cfg and returns a client. It does not contact the cluster.
func New(cfg Config) (*Client, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("opensearch: no cluster URL configured (want e.g. http://127.0.0.1:9200)")
	}
	urls := make([]string, 0, len(cfg.URLs))
	for i, raw := range cfg.URLs {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil {
			// url.Error repeats the input, which may hold a password: say only where it failed.
			return nil, fmt.Errorf("opensearch: cluster URL #%d is not a valid URL (want http:// or https://host:port)", i+1)
		}
		if u.User != nil {
			return nil, fmt.Errorf("opensearch: cluster URL %s carries credentials: put them in Config.Username and Config.Password instead", u.Redacted())
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("opensearch: cluster URL %q must start with http:// or https://", u.String())
		}
		if u.Host == "" {
			return nil, fmt.Errorf("opensearch: cluster URL %q has no host", u.String())
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("opensearch: cluster URL %q must not have a query or fragment", u.String())
		}
		u.Path = strings.TrimRight(u.Path, "/")
		urls = append(urls, u.String())
	}
	if cfg.Password != "" && cfg.Username == "" {
		return nil, errors.New("opensearch: a password is configured without a username")
	}
	if cfg.ReplicationPassword != "" && cfg.ReplicationUsername == "" {
		return nil, errors.New("opensearch: a replication password is configured without a replication username")
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	osc, err := osgo.NewClient(osgo.Config{
		Addresses: urls,
		Username:  cfg.Username,
		Password:  cfg.Password,
		// A node that does not answer (or answers 502/503/504) is retried on the next one, about
		// once per node; callers (Temporal activities) own the longer retry policy.
		MaxRetries:   len(urls),
		RetryBackoff: func(attempt int) time.Duration { return time.Duration(attempt) * 100 * time.Millisecond },
		Transport:    transport(cfg.TLS),
	})
	if err != nil {
		// opensearch-go's messages never include the password; the URLs were checked above.
		return nil, fmt.Errorf("opensearch: create client: %v", err)
	}
	return &Client{os: osc, urls: urls, user: cfg.Username, timeout: timeout, replUser: cfg.ReplicationUsername, replPassword: cfg.ReplicationPassword}, nil
}

// transport is the HTTP transport of a client: Go's default, with the TLS configuration.
func transport(cfg *tls.Config) http.RoundTripper {
	if cfg == nil {
		return nil // opensearch-go's default
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = cfg
	return t
}

// String names the cluster the client talks to, never its password.
func (c *Client) String() string {
	return fmt.Sprintf("opensearch.Client{URLs: %q, Username: %q}", c.urls, c.user)
}

// GoString keeps %#v from walking into the transport, which holds the password.
func (c *Client) GoString() string { return c.String() }

// LogValue keeps slog from logging the password.
func (c *Client) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("urls", c.urls), slog.String("username", c.user))
}

// URLs returns the endpoints the client uses.
func (c *Client) URLs() []string { return append([]string(nil), c.urls...) }

// request is one REST call.
type request struct {
	op     string // names the call in errors, e.g. `create index "logs-1"`
	method string
	path   string // already escaped, see escape
	query  url.Values
	body   any // JSON-encoded unless it is []byte or json.RawMessage (sent as is)
	ndjson bool
	api    api
	// replicationUser signs the call as the replication user (when the client has one), as
	// every replication plugin call is.
	replicationUser bool
}

// do performs r and decodes a 2xx JSON answer into out (when out is not nil). Any other answer,
// and any transport failure, becomes a classified *Error.
func (c *Client) do(ctx context.Context, r request, out any) error {
	_, err := c.doStatus(ctx, r, out)
	return err
}

// doStatus is do that also returns the HTTP status of a successful call.
func (c *Client) doStatus(ctx context.Context, r request, out any) (int, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var body io.Reader
	if r.body != nil {
		raw, err := encodeBody(r.body)
		if err != nil {
			return 0, requestError(r.op, fmt.Sprintf("encode request body: %v", err))
		}
		body = bytes.NewReader(raw)
	}
	target := r.path
	if q := r.query.Encode(); q != "" {
		target += "?" + q
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return 0, requestError(r.op, err.Error())
	}
	req.Header.Set("Accept", "application/json")
	if c.replUser != "" && (r.api != apiCore || r.replicationUser) {
		// The transport adds osccr's own credentials only to a request without them.
		req.SetBasicAuth(c.replUser, c.replPassword)
	}
	if body != nil {
		if r.ndjson {
			req.Header.Set("Content-Type", "application/x-ndjson")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	res, err := c.os.Perform(req)
	if err != nil {
		return 0, transportError(r.op, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, transportError(r.op, err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, responseError(r.op, r.api, res.StatusCode, raw)
	}
	if out != nil && r.method != http.MethodHead {
		if err := json.Unmarshal(raw, out); err != nil {
			return res.StatusCode, decodeError(r.op, res.StatusCode, err, raw)
		}
	}
	return res.StatusCode, nil
}

func encodeBody(b any) ([]byte, error) {
	switch v := b.(type) {
	case []byte:
		return v, nil
	case json.RawMessage:
		return v, nil
	default:
		return json.Marshal(v)
	}
}

// escape joins path segments, escaping each one.
func escape(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// checkName refuses names that would change the meaning of a path: empty names, separators,
// wildcards and _all. OpenSearch validates the rest and answers ErrBadRequest.
func checkName(op, what, name string) error {
	switch {
	case name == "":
		return requestError(op, what+" name is empty")
	case strings.ContainsAny(name, "/\\?#*, "):
		return requestError(op, fmt.Sprintf("%s name %q must not contain '/', '\\', '?', '#', '*', ',' or spaces", what, name))
	case name == "_all" || name == "." || name == "..":
		return requestError(op, fmt.Sprintf("%s name %q is not allowed", what, name))
	}
	return nil
}
