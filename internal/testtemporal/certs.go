// Package testtemporal gives tests the parts of a production Temporal: certificates for mutual
// TLS and a real PostgreSQL server of their own.
package testtemporal

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/osccr/osccr/internal/pki"
)

// Certs are PEM files in a test's temp dir: a CA, the frontend's certificate (127.0.0.1 and
// localhost), a client certificate that CA signed, and a client certificate of another CA
// (which the server must refuse).
type Certs struct {
	CA                        string
	ServerCert, ServerKey     string
	ClientCert, ClientKey     string
	StrangerCert, StrangerKey string
}

// NewCerts writes a fresh set of certificates into dir.
func NewCerts(t testing.TB, dir string) Certs {
	t.Helper()
	ca, err := pki.NewCA("osccr test temporal CA", "osccr-test")
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("someone else's CA", "osccr-test")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	issue := func(ca *pki.CA, cn string) pki.Pair {
		p, err := ca.Issue(cn, "osccr-test", []net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	server, client, stranger := issue(ca, "temporal-frontend"), issue(ca, "osccr-client"), issue(other, "osccr-client")
	return Certs{
		CA:           write("ca.pem", ca.CertPEM),
		ServerCert:   write("server.pem", server.CertPEM),
		ServerKey:    write("server-key.pem", server.KeyPEM),
		ClientCert:   write("client.pem", client.CertPEM),
		ClientKey:    write("client-key.pem", client.KeyPEM),
		StrangerCert: write("stranger.pem", stranger.CertPEM),
		StrangerKey:  write("stranger-key.pem", stranger.KeyPEM),
	}
}
