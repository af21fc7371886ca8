package testcluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/pki"
	"github.com/osccr/osccr/internal/security"
)

// SecureDistribution returns the distribution with the security plugin (beside the CCR
// plugin), or fails the test saying how to install it.
func SecureDistribution(t testing.TB) localnode.Distribution {
	t.Helper()
	d, err := localnode.SecureDistributionFromEnv()
	if err != nil {
		t.Fatalf("%v", err)
	}
	RequireCCR(t, d)
	return d
}

// PasswordFile writes a user's password into a file (0600) under dir, for a cluster reference.
func PasswordFile(t testing.TB, dir string, u security.User) string {
	t.Helper()
	path := filepath.Join(dir, u.Name+"-"+password(t)[:6]+".password")
	if err := os.WriteFile(path, []byte(u.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Secured is a secured single-node test cluster and how to reach it.
type Secured struct {
	Node *localnode.Node
	// CAFile is the CA certificate that signed the node's certificate, readable by the test.
	CAFile string
	// Admin is mapped to all_access (the test's own setup); Osccr, osccr's least-privilege
	// user, to the osccr role of the cluster's side (both sides' for StartSecured); Replicator,
	// the replication user, to the replication plugin's role of the side (both for
	// StartSecured).
	Admin, Osccr, Replicator security.User
}

// NewCA creates a test certificate authority; unit tells the test's certificates apart.
func NewCA(t testing.TB, unit string) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA("osccr test CA "+unit, unit)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// StartSecured starts a single-node cluster with the security plugin: TLS on HTTP and
// transport with certificates from ca, an admin, osccr's user and a replication user with
// generated passwords, the latter two mapped for either side; nodesDN are other clusters' node
// DNs it accepts (a follower's, on a leader). The node is stopped, by pid, when the test ends.
func StartSecured(t testing.TB, d localnode.Distribution, base, cluster string, ca *pki.CA, unit string, nodesDN ...string) *Secured {
	t.Helper()
	return StartSecuredSide(t, d, base, cluster, ca, unit, "", nodesDN...)
}

// StartSecuredSide is StartSecured with osccr's user and the replication user mapped, with
// least privilege, for one side only ("" for both).
func StartSecuredSide(t testing.TB, d localnode.Distribution, base, cluster string, ca *pki.CA, unit string, side security.Side, nodesDN ...string) *Secured {
	t.Helper()
	sides := []security.Side{side}
	if side == "" {
		sides = []security.Side{security.Leader, security.Follower}
	}
	s := &Secured{
		// The admin keeps the replication roles too: tests that call the cluster as the admin
		// start replications with use_roles, which must be mapped to the user that starts it.
		Admin:      security.User{Name: "admin", Password: password(t), Roles: []string{security.RoleAllAccess, security.RoleReplicationLeader, security.RoleReplicationFollower}},
		Osccr:      security.User{Name: security.OsccrUserName, Password: password(t)},
		Replicator: security.User{Name: security.ReplicationUserName, Password: password(t)},
	}
	var roles []security.Role
	for _, sd := range sides {
		roles = append(roles, security.OsccrRole(sd))
		s.Osccr.Roles = append(s.Osccr.Roles, security.OsccrRole(sd).Name)
		s.Replicator.Roles = append(s.Replicator.Roles, security.ReplicationRole(sd))
	}
	spec := localnode.Spec{Dir: filepath.Join(base, cluster), Cluster: cluster, HeapMB: 512}
	if err := security.Apply(&spec, security.Node{Cluster: cluster, Name: cluster + "-0", Unit: unit, CA: ca, Users: []security.User{s.Admin, s.Osccr, s.Replicator}, NodesDN: nodesDN, Roles: roles}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	node, err := d.Start(ctx, spec)
	if err != nil {
		t.Fatalf("start secured node %s: %v", cluster, err)
	}
	t.Cleanup(func() { Stop(t, node) })
	s.Node = node
	s.CAFile = filepath.Join(base, cluster+"-ca.pem")
	if err := os.WriteFile(s.CAFile, ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	s.awaitSecurity(t, ctx)
	return s
}

// awaitSecurity waits until the security plugin has loaded its configuration (it answers 503
// until then): the admin's password opens the cluster health.
func (s *Secured) awaitSecurity(t testing.TB, ctx context.Context) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(mustRead(t, s.CAFile))
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	defer client.CloseIdleConnections()
	last := ""
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Node.HTTPURL()+"/_cluster/health", nil)
		req.SetBasicAuth(s.Admin.Name, s.Admin.Password)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("secured node %s: security not ready (%s); %s", s.Node.Name, last, s.Node.LogTail())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// password is a random 24-character password.
func password(t testing.TB) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "Os" + hex.EncodeToString(b)[:22]
}
