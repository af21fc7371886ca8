package access

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Guard checks what every request to `osccr serve` must show before any handler sees it:
//
//   - its Host header names this server: an IP address, a name given with --host-name, or,
//     on a loopback listen address, localhost. A web page whose name an attacker points at
//     127.0.0.1 (DNS rebinding) sends its own name and is refused.
//   - a state-changing request (POST, PUT, PATCH, DELETE) that says where it comes from
//     (Origin, or Sec-Fetch-Site) comes from this very origin: a page the operator visits
//     cannot make the browser send one, even with --insecure-dev. Clients that are not
//     browsers (avn, Terraform, curl) send no Origin and pass.
//
// Each refusal is audited (a refused GET too: rebinding is an attack whatever the method).
type Guard struct {
	// Names are the host names (without port) this server answers to besides IP addresses.
	Names []string
	// Loopback: the server listens on a loopback address, where localhost is a name of it.
	Loopback bool
	Audit    Auditor
}

// Wrap returns next behind the guard.
func (g Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rule, msg := g.check(r); rule != "" {
			g.Audit.Audit(Record{Time: time.Now().UTC(), Via: via(r), Action: r.Method + " " + r.URL.Path, Path: r.URL.Path, Outcome: OutcomeRefused,
				Status: http.StatusForbidden, Rule: rule, Reason: msg, Remote: r.RemoteAddr})
			WriteError(w, http.StatusForbidden, "forbidden", msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (g Guard) check(r *http.Request) (rule, msg string) {
	if !g.hostAllowed(r.Host) {
		return "host", fmt.Sprintf("Host %s is not a name of this server (rule: Host check, against DNS rebinding): use its address, or start osccr serve with --host-name naming it", r.Host)
	}
	if !StateChanging(r) {
		return "", ""
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return "origin", fmt.Sprintf("a %s request from another site (Sec-Fetch-Site: %s) is refused (rule: same origin for every change); send it from this console, or from a client that is not a browser", r.Method, site)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return "", ""
	}
	u, err := url.Parse(origin)
	if origin == "null" || err != nil || u.Host != r.Host || (u.Scheme != "http" && u.Scheme != "https") || (u.Scheme == "https") != (r.TLS != nil) {
		return "origin", fmt.Sprintf("a %s request from origin %s is refused: only this server's own pages may change state (rule: same origin for every change); send it from this console, or from a client that is not a browser", r.Method, origin)
	}
	return "", ""
}

func (g Guard) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if host == "" {
		return false
	}
	if net.ParseIP(host) != nil {
		return true
	}
	host = strings.ToLower(host)
	if g.Loopback && host == "localhost" {
		return true
	}
	return slices.ContainsFunc(g.Names, func(n string) bool { return strings.EqualFold(strings.TrimSuffix(n, "."), host) })
}

// via names the door of a request by its path.
func via(r *http.Request) string {
	if strings.HasPrefix(r.URL.Path, "/v1/") || r.URL.Path == "/openapi.json" {
		return "api"
	}
	return "console"
}

// WriteError writes the API's error envelope (the Aiven API's: message, errors, and osccr's code).
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"message": msg, "code": code,
		"errors": []map[string]any{{"message": msg, "status": status, "error_code": code}}})
}

// Throttle slows the guessing of tokens: each client address has a bucket of Burst failed
// attempts (a wrong or missing token, at the API or the sign-in form) that refills at Rate a
// second; once it is empty, that address's requests are answered 429 without any token being
// checked until it has refilled one. A second bucket, shared by every address, bounds guessing
// from many addresses at once (GlobalBurst, GlobalRate).
type Throttle struct {
	Burst, GlobalBurst float64
	Rate, GlobalRate   float64

	mu      sync.Mutex
	clients map[string]*bucket
	global  bucket
	now     func() time.Time
}

// DefaultThrottle is `osccr serve`'s: 10 failures at once per address, then one a second;
// 50 at once over all addresses, then 10 a second.
func DefaultThrottle() *Throttle {
	return &Throttle{Burst: 10, Rate: 1, GlobalBurst: 50, GlobalRate: 10}
}

type bucket struct {
	level float64 // failures counted, drained at the rate
	at    time.Time
}

const maxThrottled = 10000

func (b *bucket) drain(now time.Time, rate float64) {
	if !b.at.IsZero() {
		b.level = math.Max(0, b.level-now.Sub(b.at).Seconds()*rate)
	}
	b.at = now
}

// Allow reports whether a request from remote may try a token now, and if not, in how long.
func (t *Throttle) Allow(remote string) (bool, time.Duration) {
	if t == nil {
		return true, 0
	}
	now := t.clock()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.global.drain(now, t.GlobalRate)
	if t.global.level > t.GlobalBurst-1 {
		return false, wait(t.global.level-t.GlobalBurst+1, t.GlobalRate)
	}
	b := t.clients[clientKey(remote)]
	if b == nil {
		return true, 0
	}
	b.drain(now, t.Rate)
	if b.level > t.Burst-1 {
		return false, wait(b.level-t.Burst+1, t.Rate)
	}
	return true, 0
}

// Fail counts a failed attempt from remote.
func (t *Throttle) Fail(remote string) {
	if t == nil {
		return
	}
	now := t.clock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.clients == nil {
		t.clients = map[string]*bucket{}
	}
	t.global.drain(now, t.GlobalRate)
	t.global.level++
	key := clientKey(remote)
	b := t.clients[key]
	if b == nil {
		if len(t.clients) >= maxThrottled {
			for k, old := range t.clients { // forget the drained ones first
				if old.drain(now, t.Rate); old.level == 0 {
					delete(t.clients, k)
				}
			}
		}
		b = &bucket{}
		t.clients[key] = b
	}
	b.drain(now, t.Rate)
	b.level++
}

func (t *Throttle) clock() time.Time {
	if t.now != nil {
		return t.now()
	}
	return time.Now()
}

func wait(excess, rate float64) time.Duration {
	return time.Duration(math.Ceil(excess/rate)) * time.Second
}

// clientKey is the address part of a RemoteAddr.
func clientKey(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

// Throttled answers a request the throttle stopped.
func Throttled(w http.ResponseWriter, retry time.Duration) string {
	msg := fmt.Sprintf("too many failed sign-ins from this address (rule: sign-in throttle): try again in %s", retry)
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
	WriteError(w, http.StatusTooManyRequests, "throttled", msg)
	return msg
}
