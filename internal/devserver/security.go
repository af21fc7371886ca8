package devserver

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/rpc/encryption"

	"github.com/osccr/osccr/internal/pki"
)

// TLSConfig secures the frontend (gRPC and HTTP) with a certificate, and optionally requires
// every client to present one.
type TLSConfig struct {
	// CertFile and KeyFile are the frontend's certificate and key (PEM).
	CertFile, KeyFile string
	// ClientCAFile, when set, makes the server require a client certificate signed by one of
	// the CAs in this PEM file (mutual TLS); a client without one is refused at the handshake.
	ClientCAFile string
}

// internalUser is the common name of the certificate the server's own clients present: its
// system worker, the Web UI and, in `osccr-worker --dev`, the worker in the same process.
const internalUser = "osccr-temporal-internal"

// security is what Start derives from Config.TLS and Config.APIKeysFile.
//
// The server's own clients (Temporal's system worker, the Web UI, and the in-process osccr
// worker) authenticate with a certificate issued at every start by a CA that lives only in
// this process's memory: it is accepted beside the operator's client CA, and with API keys
// the claim mapper recognises it by its exact bytes. The operator provides no certificate
// for them, and nothing that could impersonate them is ever written to disk.
type security struct {
	server *tls.Config // the frontend's listener
	// internal is the client side for the server's own clients: the internal certificate,
	// and the frontend's certificate pinned (they dial it on loopback by IP).
	internal     *tls.Config
	internalPair pki.Pair
	internalLeaf []byte // DER of the internal certificate
	keys         []apiKey
}

type apiKey struct {
	name string
	hash [sha256.Size]byte
}

func newSecurity(cfg Config) (*security, error) {
	if cfg.TLS == nil {
		if cfg.APIKeysFile != "" {
			return nil, errors.New("devserver: API keys need TLS (the SDK sends a key over TLS only): give the server a certificate too")
		}
		return nil, nil
	}
	serverCert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("devserver: server certificate: %w", err)
	}
	ca, err := pki.NewCA("osccr temporal internal CA", "osccr-temporal")
	if err != nil {
		return nil, fmt.Errorf("devserver: %w", err)
	}
	pair, err := ca.Issue(internalUser, "osccr-temporal", []net.IP{net.ParseIP(cfg.Host)}, []string{"localhost"})
	if err != nil {
		return nil, fmt.Errorf("devserver: %w", err)
	}
	internalCert, err := tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("devserver: %w", err)
	}

	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(ca.Cert)
	clientAuth := tls.VerifyClientCertIfGiven
	if cfg.TLS.ClientCAFile != "" {
		raw, err := os.ReadFile(cfg.TLS.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("devserver: client CA: %w", err)
		}
		if !clientCAs.AppendCertsFromPEM(raw) {
			return nil, fmt.Errorf("devserver: client CA %s holds no PEM certificate", cfg.TLS.ClientCAFile)
		}
		clientAuth = tls.RequireAndVerifyClientCert
	}
	serverLeaf := serverCert.Certificate[0]
	s := &security{
		server: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{serverCert},
			ClientAuth:   clientAuth,
			ClientCAs:    clientCAs,
		},
		internal: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{internalCert},
			// Pinned instead of verified by name: the frontend is dialled on an IP its
			// certificate need not carry, and it is this very certificate.
			InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, serverLeaf) {
					return errors.New("the frontend does not present the server's own certificate")
				}
				return nil
			},
		},
		internalPair: pair,
		internalLeaf: internalCert.Certificate[0],
	}
	if cfg.APIKeysFile != "" {
		if s.keys, err = readAPIKeys(cfg.APIKeysFile); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// readAPIKeys reads one key per line, optionally preceded by a name and a space ("ci-bot
// KEY"); blank lines and lines starting with # are skipped. Only hashes are kept.
func readAPIKeys(path string) ([]apiKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("devserver: API keys: %w", err)
	}
	defer f.Close()
	var keys []apiKey
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		var k apiKey
		switch len(fields) {
		case 1:
			k.hash = sha256.Sum256([]byte(fields[0]))
			k.name = "key-" + hex.EncodeToString(k.hash[:4])
		case 2:
			k.name, k.hash = fields[0], sha256.Sum256([]byte(fields[1]))
		default:
			return nil, fmt.Errorf("devserver: API keys file %s line %d: want KEY or NAME KEY", path, line)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("devserver: API keys: %w", err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("devserver: API keys file %s lists no key", path)
	}
	return keys, nil
}

// tlsProvider serves the frontend's TLS settings; the services inside the process talk to
// each other on loopback without TLS.
type tlsProvider struct{ sec *security }

var _ encryption.TLSConfigProvider = tlsProvider{}

func (tlsProvider) GetInternodeServerConfig() (*tls.Config, error)           { return nil, nil }
func (tlsProvider) GetInternodeClientConfig() (*tls.Config, error)           { return nil, nil }
func (p tlsProvider) GetFrontendServerConfig() (*tls.Config, error)          { return p.sec.server, nil }
func (p tlsProvider) GetFrontendClientConfig() (*tls.Config, error)          { return p.sec.internal, nil }
func (tlsProvider) GetRemoteClusterClientConfig(string) (*tls.Config, error) { return nil, nil }
func (tlsProvider) GetExpiringCerts(time.Duration) (encryption.CertExpirationMap, encryption.CertExpirationMap, error) {
	return nil, nil, nil
}

// claimMapper gives full rights to a request with a listed API key ("Bearer KEY") and to
// the server's own clients (the internal certificate); everyone else gets no claims, which
// the default authorizer refuses (health checks aside).
type claimMapper struct{ sec *security }

func (m claimMapper) GetClaims(info *authorization.AuthInfo) (*authorization.Claims, error) {
	if info.TLSConnection != nil {
		if peers := info.TLSConnection.State.PeerCertificates; len(peers) > 0 && bytes.Equal(peers[0].Raw, m.sec.internalLeaf) {
			return &authorization.Claims{Subject: internalUser, System: authorization.RoleAdmin}, nil
		}
	}
	token, ok := strings.CutPrefix(info.AuthToken, "Bearer ")
	if !ok || token == "" {
		return &authorization.Claims{}, nil
	}
	sum := sha256.Sum256([]byte(token))
	for _, k := range m.sec.keys {
		if subtle.ConstantTimeCompare(sum[:], k.hash[:]) == 1 {
			return &authorization.Claims{Subject: "api-key:" + k.name, System: authorization.RoleAdmin}, nil
		}
	}
	return &authorization.Claims{}, nil
}

// AuthInfoRequired false: a request with neither a key nor a certificate still gets
// (empty) claims, and so a clean PermissionDenied from the authorizer.
func (claimMapper) AuthInfoRequired() bool { return false }

// uiTLS is the Web UI's connection to the frontend: the internal certificate (base64 PEM,
// as the UI server takes it).
func (s *security) uiTLS() (certData, keyData string) {
	return base64.StdEncoding.EncodeToString(s.internalPair.CertPEM), base64.StdEncoding.EncodeToString(s.internalPair.KeyPEM)
}

// ClientTLS is the TLS configuration for a Temporal client in the same process (the worker
// of `osccr-worker --dev`): the internal certificate, the frontend's pinned. nil when the
// server runs without TLS.
func (s *Server) ClientTLS() *tls.Config {
	if s.sec == nil {
		return nil
	}
	return s.sec.internal.Clone()
}
