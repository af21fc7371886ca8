package provision

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/pki"
	"github.com/osccr/osccr/internal/security"
)

// AdminUser is the user osccr creates on every secured local service and calls it as.
const AdminUser = "admin"

// adminPasswordFile holds, in a secured service's directory, its admin's password (0600).
const adminPasswordFile = "admin.password"

// Credentials say how to reach a secured service, by reference only: files on the machine of
// the worker that provisioned it. They never hold the password itself.
type Credentials struct {
	Username     string
	PasswordFile string
	CAFile       string
}

// enableSecurity is what the local backend needs for secured services: the distribution with
// the security plugin, and where the installation's CA is kept.
type localSecurity struct {
	dist   localnode.Distribution
	pkiDir string
}

// WithSecurity lets the local backend provision secured services (Spec.Secured): nodes started
// from dist (which has the security plugin), with certificates from the installation's CA in
// pkiDir (created on first use, see pki.LoadOrCreateCA). Without it, a secured service is
// refused with ErrUnsupported.
func (l *Local) WithSecurity(dist localnode.Distribution, pkiDir string) *Local {
	l.secure = &localSecurity{dist: dist, pkiDir: pkiDir}
	return l
}

// distFor is the distribution a service's nodes run from.
func (l *Local) distFor(spec Spec) (localnode.Distribution, error) {
	if !spec.Secured {
		return l.dist, nil
	}
	if l.secure == nil {
		return localnode.Distribution{}, fmt.Errorf("%w: service %q is secured, and this worker has no OpenSearch distribution with the security plugin (run `make opensearch` on its machine, or set OSCCR_OPENSEARCH_SECURE_HOME); a plain service is created with --security=none", ErrUnsupported, spec.Service)
	}
	return l.secure.dist, nil
}

// NodesDNPattern matches the DN of every node certificate an installation's CA issues: what a
// leader's plugins.security.nodes_dn lists so that any follower of the same installation may
// connect to it as a node, written once when the leader is provisioned (no restart later).
func NodesDNPattern(unit string) string { return security.NodeDN("*", unit) }

// secureNode adds the security plugin's configuration to a node's spec: certificates from the
// installation's CA, the admin user with the service's password, the installation's nodes.
func (l *Local) secureNode(spec *localnode.Spec, service string) error {
	ca, err := pki.LoadOrCreateCA(l.secure.pkiDir)
	if err != nil {
		return err
	}
	pw, err := l.adminPassword(service)
	if err != nil {
		return err
	}
	admin := security.User{Name: AdminUser, Password: pw, Roles: []string{security.RoleAllAccess, security.RoleReplicationLeader, security.RoleReplicationFollower}}
	return security.Apply(spec, security.Node{
		Cluster: spec.Cluster, Name: spec.Name, Unit: ca.Unit(), CA: ca,
		Users:   []security.User{admin},
		NodesDN: []string{NodesDNPattern(ca.Unit())},
	})
}

// credentials are the references a secured service is reached with.
func (l *Local) credentials(service string) *Credentials {
	return &Credentials{Username: AdminUser, PasswordFile: l.passwordPath(service), CAFile: filepath.Join(l.secure.pkiDir, "ca.pem")}
}

func (l *Local) passwordPath(service string) string {
	return filepath.Join(l.serviceDir(service), adminPasswordFile)
}

// adminPassword reads the service's admin password, generating it (and writing it, 0600,
// atomically) the first time.
func (l *Local) adminPassword(service string) (string, error) {
	path := l.passwordPath(service)
	raw, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(raw)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read the admin password of service %q: %w", service, err)
	}
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate the admin password of service %q: %w", service, err)
	}
	// 24 characters of base64url plus a fixed tail that meets any password policy (upper,
	// lower, digit, symbol).
	pw := base64.RawURLEncoding.EncodeToString(b) + "-Aa1"
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the admin password of service %q: %w", service, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write the admin password of service %q: %w", service, err)
	}
	return pw, nil
}

// clientConfig is how the backend itself reaches a service's node: plain HTTP, or HTTPS with
// the installation's CA and the admin's password.
func (l *Local) clientConfig(rec serviceRecord, n *localnode.Node) (opensearch.Config, error) {
	if !rec.Spec.Secured {
		return plain(n.HTTPURL()), nil
	}
	if l.secure == nil {
		return opensearch.Config{}, fmt.Errorf("%w: service %q is secured and this worker cannot run secured services", ErrUnsupported, rec.Spec.Service)
	}
	creds := l.credentials(rec.Spec.Service)
	caPEM, err := os.ReadFile(creds.CAFile)
	if err != nil {
		return opensearch.Config{}, fmt.Errorf("service %q: read the CA: %w", rec.Spec.Service, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return opensearch.Config{}, fmt.Errorf("service %q: %s holds no PEM certificate", rec.Spec.Service, creds.CAFile)
	}
	pw, err := os.ReadFile(creds.PasswordFile)
	if err != nil {
		return opensearch.Config{}, fmt.Errorf("service %q: read the admin password: %w", rec.Spec.Service, err)
	}
	return opensearch.Config{URLs: []string{n.HTTPURL()}, Username: creds.Username, Password: strings.TrimSpace(string(pw)),
		TLS: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}, nil
}

// awaitSecurity waits until a secured node lets the admin in with its password: the security
// plugin answers 503 until it has loaded its configuration, after a first start or a restart.
// A plain node is ready once it is healthy, which Start already waited for.
func (l *Local) awaitSecurity(ctx context.Context, rec serviceRecord, n *localnode.Node) error {
	if !rec.Spec.Secured {
		return nil
	}
	cfg, err := l.clientConfig(rec, n)
	if err != nil {
		return err
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		h, err := clusterHealth(ctx, cfg)
		if err != nil {
			return fmt.Errorf("service %q: security not ready: %w", rec.Spec.Service, err)
		}
		if h.Status != StatusUnreachable {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("service %q: security not ready (%s): %w; %s", rec.Spec.Service, h.Reason, ctx.Err(), n.LogTail())
		case <-tick.C:
		}
	}
}

// Distribution is the distribution the nodes of a service of spec would run from (a secured
// service needs the one with the security plugin): what a preflight compares with the leader.
func (l *Local) Distribution(spec Spec) (localnode.Distribution, error) { return l.distFor(spec) }
