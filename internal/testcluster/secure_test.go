package testcluster

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/security"
)

// TestStartSecured: a secured node answers on HTTPS only, to its users' passwords, with a
// certificate from the test's CA valid for 127.0.0.1.
func TestStartSecured(t *testing.T) {
	d := SecureDistribution(t)
	base := Dir(t)
	ca := NewCA(t, "tcl")
	began := time.Now()
	s := StartSecured(t, d, base, "sec", ca, "tcl")
	t.Logf("secured node healthy after %s at %s", time.Since(began).Round(time.Millisecond), s.Node.HTTPURL())
	if !strings.HasPrefix(s.Node.HTTPURL(), "https://127.0.0.1:") {
		t.Fatalf("endpoint %s is not https", s.Node.HTTPURL())
	}
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	get := func(user, pass string) int {
		req, _ := http.NewRequest(http.MethodGet, s.Node.HTTPURL()+"/_cluster/health", nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET as %q: %v", user, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tt := range []struct {
		user, pass string
		want       int
	}{
		{s.Admin.Name, s.Admin.Password, http.StatusOK},
		{s.Admin.Name, "wrong-password", http.StatusUnauthorized},
		{"", "", http.StatusUnauthorized},
	} {
		if got := get(tt.user, tt.pass); got != tt.want {
			t.Errorf("GET /_cluster/health as %q: %d, want %d", tt.user, got, tt.want)
		}
	}
	// The replicator is not an admin: cluster settings are not its business.
	req, _ := http.NewRequest(http.MethodGet, s.Node.HTTPURL()+"/_cluster/settings", nil)
	req.SetBasicAuth(s.Replicator.Name, s.Replicator.Password)
	if resp, err := client.Do(req); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusForbidden {
		t.Errorf("replicator reads cluster settings: %d, want 403", resp.StatusCode)
	}
	if _, err := http.Get(strings.Replace(s.Node.HTTPURL(), "https", "http", 1)); err == nil {
		t.Error("the secured node answers plain HTTP")
	}
	key, err := os.Stat(s.Node.ConfigFile(security.NodeKeyFile))
	if err != nil || key.Mode().Perm() != 0o600 {
		t.Errorf("node key file mode %v, %v; want 0600", key.Mode().Perm(), err)
	}
}
