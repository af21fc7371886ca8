package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/osccr/osccr/internal/access"
	"github.com/osccr/osccr/internal/control"
)

func testTokens(t *testing.T, single string) *access.Tokens {
	t.Helper()
	tokens, err := access.NewTokens("", single)
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

// TestServeHandler: the API keeps /v1/ and /openapi.json, the console has every other path,
// and both ask for the same token.
func TestServeHandler(t *testing.T) {
	h, err := serveHandler(control.New(nil), testTokens(t, "tok"), "default", serveOptions{loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path, contentType string
		status            int
		location          string
	}{
		{"/openapi.json", "application/json", http.StatusOK, ""},
		{"/v1/project/default/service", "application/json", http.StatusUnauthorized, ""},
		{"/v1/nothing", "application/json", http.StatusNotFound, ""},
		{"/", "", http.StatusSeeOther, "/signin?next=%2F"},
		{"/services/orders", "", http.StatusSeeOther, "/signin?next=%2Fservices%2Forders"},
		{"/signin", "text/html", http.StatusOK, ""},
		{"/static/console.js", "text/javascript", http.StatusOK, ""},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, tt.path, nil)
		req.Host = "127.0.0.1:8080"
		h.ServeHTTP(rec, req)
		if rec.Code != tt.status || !strings.HasPrefix(rec.Header().Get("Content-Type"), tt.contentType) || rec.Header().Get("Location") != tt.location {
			t.Errorf("GET %s: %d %q to %q, want %d %q to %q", tt.path, rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Location"), tt.status, tt.contentType, tt.location)
		}
	}
}

// TestServeGuard: behind osccr serve, a rebinding Host is refused on every request, and a
// cross-origin POST is refused even with --insecure-dev (no tokens), each with its audit record.
func TestServeGuard(t *testing.T) {
	audit := &access.Memory{}
	h, err := serveHandler(control.New(nil), nil, "default", serveOptions{loopback: true, audit: audit, hostNames: []string{"osccr.example"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, method, path, host, origin, site string
		status                                 int
		want, rule                             string
	}{
		{"rebinding Host", "GET", "/", "evil.example:8080", "", "", http.StatusForbidden,
			`Host evil.example:8080 is not a name of this server (rule: Host check, against DNS rebinding): use its address, or start osccr serve with --host-name naming it`, "host"},
		{"rebinding Host on the API", "POST", "/v1/project/default/service/orders/promote", "evil.example", "", "", http.StatusForbidden, "(rule: Host check, against DNS rebinding)", "host"},
		{"cross-origin POST with --insecure-dev", "POST", "/v1/project/default/service/orders/promote", "127.0.0.1:8080", "http://evil.example", "", http.StatusForbidden,
			"a POST request from origin http://evil.example is refused: only this server's own pages may change state (rule: same origin for every change); send it from this console, or from a client that is not a browser", "origin"},
		{"null origin", "POST", "/services/orders/delete", "localhost:8080", "null", "", http.StatusForbidden, "from origin null is refused", "origin"},
		{"cross-site fetch", "DELETE", "/v1/project/default/service/orders", "127.0.0.1:8080", "", "cross-site", http.StatusForbidden, "(Sec-Fetch-Site: cross-site) is refused (rule: same origin for every change)", "origin"},
		{"another port is another origin", "POST", "/v1/project/default/service/orders/pause", "127.0.0.1:8080", "http://127.0.0.1:9999", "", http.StatusForbidden, "(rule: same origin for every change)", "origin"},
		{"configured name", "GET", "/openapi.json", "osccr.example:443", "", "", http.StatusOK, "", ""},
		{"localhost on loopback", "GET", "/openapi.json", "localhost:8080", "", "", http.StatusOK, "", ""},
		{"an IP address", "GET", "/openapi.json", "[::1]:8080", "", "", http.StatusOK, "", ""},
	} {
		before := len(audit.Records())
		req := httptest.NewRequest(tt.method, tt.path, nil)
		req.Host = tt.host
		if tt.origin != "" {
			req.Header.Set("Origin", tt.origin)
		}
		if tt.site != "" {
			req.Header.Set("Sec-Fetch-Site", tt.site)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("%s: %d %s, want %d saying %q", tt.name, rec.Code, rec.Body.String(), tt.status, tt.want)
		}
		records := audit.Records()[before:]
		switch {
		case tt.rule == "" && len(records) != 0:
			t.Errorf("%s: audited %+v", tt.name, records)
		case tt.rule != "" && (len(records) != 1 || records[0].Rule != tt.rule || records[0].Outcome != access.OutcomeRefused || records[0].Status != http.StatusForbidden || !strings.Contains(records[0].Reason, tt.want)):
			t.Errorf("%s: audit %+v, want one refused record of rule %s", tt.name, records, tt.rule)
		}
	}
	// Without --host-name and off loopback, localhost is not a name of the server either.
	h2, _ := serveHandler(control.New(nil), nil, "default", serveOptions{})
	req := httptest.NewRequest("GET", "/openapi.json", nil)
	req.Host = "localhost:8080"
	rec := httptest.NewRecorder()
	h2.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("localhost on a non-loopback listen address: %d", rec.Code)
	}
}

// TestServeSettings: --insecure-dev only on loopback, TLS needs both files, tokens or
// --insecure-dev, each refusal naming its fix.
func TestServeSettings(t *testing.T) {
	t.Setenv("OSCCR_API_TOKEN", "")
	dir := t.TempDir()
	tokensFile := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokensFile, []byte(access.HashLine("alice", access.RoleOperator, "t1")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string // "" when accepted
	}{
		{"insecure-dev on loopback", []string{"--insecure-dev", "--listen", "127.0.0.1:8080"}, ""},
		{"insecure-dev on localhost", []string{"--insecure-dev", "--listen", "localhost:8080"}, ""},
		{"insecure-dev on every address", []string{"--insecure-dev", "--listen", "0.0.0.0:8080"},
			"--insecure-dev serves everyone as an admin, so it listens on a loopback address only (127.0.0.1, ::1 or localhost), not 0.0.0.0"},
		{"insecure-dev on an empty host", []string{"--insecure-dev", "--listen", ":8080"}, "on a loopback address only"},
		{"no token", []string{"--listen", "127.0.0.1:8080"}, "the API needs tokens: give --tokens"},
		{"tokens file", []string{"--tokens", tokensFile, "--listen", "0.0.0.0:8443", "--tls-cert", "/c", "--tls-key", "/k"}, ""},
		{"tokens and insecure-dev", []string{"--tokens", tokensFile, "--insecure-dev"}, "leave one out"},
		{"cert without key", []string{"--tokens", tokensFile, "--tls-cert", "/c"}, "HTTPS needs both --tls-cert and --tls-key"},
		{"bad tokens file", []string{"--tokens", filepath.Join(dir, "none")}, "--tokens: tokens file"},
	} {
		_, err := serveSettings(serveContext(t, tt.args...))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func serveContext(t *testing.T, args ...string) *cli.Context {
	t.Helper()
	set := flag.NewFlagSet("serve", flag.ContinueOnError)
	for _, f := range serveCommand().Flags {
		if err := f.Apply(set); err != nil {
			t.Fatal(err)
		}
	}
	if err := set.Parse(args); err != nil {
		t.Fatal(err)
	}
	return cli.NewContext(app(), set, nil)
}

// TestServeTLS: with --tls-cert and --tls-key the handler answers over HTTPS.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	h, err := serveHandler(control.New(nil), testTokens(t, "tok"), "default", serveOptions{loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pemBytes, _ := os.ReadFile(certFile)
	pool.AppendCertsFromPEM(pemBytes)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}, Timeout: 10 * time.Second}
	resp, err := client.Get(srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Errorf("GET over HTTPS: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestThrottleOverHTTP measures the default throttle through osccr serve's handler over real
// HTTP: one client sending wrong tokens as fast as it can for 3 s gets its burst and then about
// one try a second checked; the rest are answered 429 without a token being checked.
func TestThrottleOverHTTP(t *testing.T) {
	h, err := serveHandler(control.New(nil), testTokens(t, "right-token"), "default", serveOptions{loopback: true, throttle: access.DefaultThrottle(), audit: &access.Memory{}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Timeout: 5 * time.Second}
	counts := map[int]int{}
	began := time.Now()
	for time.Since(began) < 3*time.Second {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/project/default/vpcs", nil)
		req.Header.Set("Authorization", "Bearer wrong-token")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		counts[resp.StatusCode]++
	}
	elapsed := time.Since(began)
	t.Logf("3 s of wrong tokens from one address: %d requests (%.0f/s), %d checked (401), %d throttled (429)",
		counts[401]+counts[429], float64(counts[401]+counts[429])/elapsed.Seconds(), counts[401], counts[429])
	if counts[401] < 10 || counts[401] > 14 || counts[429] == 0 {
		t.Errorf("checked %d, throttled %d: want the burst of 10 and about one a second after", counts[401], counts[429])
	}
	// The right token is throttled too while the address is: nothing is learnt from it. (Right
	// after a wrong token was checked, so that the bucket is full.)
	send := func(token string) int {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/project/default/vpcs", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for deadline := time.Now().Add(5 * time.Second); send("wrong-token") != http.StatusUnauthorized; {
		if time.Now().After(deadline) {
			t.Fatal("no wrong token checked in 5 s")
		}
	}
	resp := &http.Response{StatusCode: send("right-token"), Status: ""}
	resp.Status = http.StatusText(resp.StatusCode)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the right token from a throttled address: %s, want 429", resp.Status)
	}
}
