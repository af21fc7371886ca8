package pki

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
)

func TestIssue(t *testing.T) {
	ca, err := NewCA("osccr test CA", "test")
	if err != nil {
		t.Fatal(err)
	}
	node, err := ca.Issue("node-0", "test", []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(node.CertPEM, node.KeyPEM)
	if err != nil {
		t.Fatalf("issued pair does not load: %v", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1", KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Errorf("usage %v: %v", usage, err)
		}
	}
	if string(node.KeyPEM[:27]) != "-----BEGIN PRIVATE KEY-----" {
		t.Errorf("key is not PKCS#8: %q", node.KeyPEM[:27])
	}
	if node.Subject != "CN=node-0,OU=test,O=osccr" || cert.Subject.String() != "CN=node-0,OU=test,O=osccr" {
		t.Errorf("subject %q / %q", node.Subject, cert.Subject.String())
	}
	other, _ := NewCA("other", "test")
	roots2 := x509.NewCertPool()
	roots2.AppendCertsFromPEM(other.CertPEM)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots2}); err == nil {
		t.Error("a certificate verifies against another CA")
	}
	dir := t.TempDir()
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := back.Issue("node-1", "test", nil, []string{"localhost"}); err != nil {
		t.Errorf("a loaded CA cannot issue: %v", err)
	}
}
