package activities

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"time"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/security"
)

// securityAPI is what the security plugin says of a cluster: its mode, the node DNs it
// allows, and who a call is signed by.
type securityAPI interface {
	SecurityMode(ctx context.Context) (string, error)
	NodesDN(ctx context.Context) (opensearch.NodesDNSettings, error)
	ReplicationAuthInfo(ctx context.Context) (opensearch.AuthInfo, error)
}

// transportProbeFor bounds the TLS probe of a transport port.
const transportProbeFor = 3 * time.Second

// transportCerts is what a node shows on its transport port: its certificate's subject (the
// DN other clusters must allow) and issuer (the CA the other side must trust).
type transportCerts struct {
	Subject, Issuer string
	err             error
}

// probeTransport opens a TLS connection to a node's transport port from the worker and reads
// the certificate it shows, unverified: it is read to name the node's DN and its CA, never to
// trust it. A node that requires a client certificate shows its own first, so no key is needed.
func probeTransport(ctx context.Context, addr string) transportCerts {
	if addr == "" {
		return transportCerts{err: errors.New("no transport address known")}
	}
	var chain []*x509.Certificate
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: transportProbeFor}, Config: &tls.Config{
		InsecureSkipVerify: true, // read, not trusted: see above
		MinVersion:         tls.VersionTLS12,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			for _, r := range raw {
				if c, err := x509.ParseCertificate(r); err == nil {
					chain = append(chain, c)
				}
			}
			return nil
		},
	}}
	ctx, cancel := context.WithTimeout(ctx, transportProbeFor)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if conn != nil {
		conn.Close()
	}
	if len(chain) == 0 {
		if err == nil {
			err = errors.New("no certificate shown")
		}
		return transportCerts{err: fmt.Errorf("read the transport certificate at %s from the worker: %w", addr, err)}
	}
	return transportCerts{Subject: chain[0].Subject.String(), Issuer: chain[0].Issuer.String()}
}

// caIn names the file among the worker's that holds the CA with that subject, if any (a
// cluster's CA file often is its transport CA too).
func caIn(subject string, refs ...contract.ClusterRef) string {
	for _, ref := range refs {
		if ref.CAFile == "" {
			continue
		}
		raw, err := os.ReadFile(ref.CAFile)
		if err != nil {
			continue
		}
		pool := raw
		for {
			var c *x509.Certificate
			c, pool = nextCert(pool)
			if c == nil {
				break
			}
			if c.Subject.String() == subject {
				return fmt.Sprintf(" (the CA in %s's CA file %s)", ref.Name, ref.CAFile)
			}
		}
	}
	return ""
}

// denied turns a 403 for want of a permission into what to grant: the permission, the user,
// and the osccr role of the cluster's side that grants it. ok is false for any other error.
func denied(err error, ref contract.ClusterRef, side security.Side) (fix string, ok bool) {
	perm, user, ok := opensearch.MissingPermission(err)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%s's user %s lacks %s: map it to the role %s (docs/clusters.md, \"Secured clusters\"; security.OsccrRole), which grants it, or grant %s to one of its roles",
		ref.Name, user, perm, security.OsccrRole(side).Name, perm), true
}

// fixFor is the fix for a check that failed with err: what to grant when the cluster denied a
// permission, else the check's own fix.
func fixFor(err error, ref contract.ClusterRef, side security.Side, otherwise string) string {
	if fix, ok := denied(err, ref, side); ok {
		return fix
	}
	return otherwise
}

// replicationUserCheck checks, on each side whose replication user osccr knows, that its
// credentials are accepted and that it is mapped to the replication plugin's role of that side
// (the role use_roles names), and that both sides name the same user (the plugin runs the
// leader side as the user that started the replication).
func replicationUserCheck(ctx context.Context, in contract.PreflightInput, leader, follower securityAPI, add adder) {
	type sideUser struct {
		ref  contract.ClusterRef
		c    securityAPI
		side security.Side
	}
	names := map[security.Side]string{}
	for _, s := range []sideUser{{in.Follower, follower, security.Follower}, {in.Leader, leader, security.Leader}} {
		role := security.ReplicationRole(s.side)
		user := s.ref.ReplicationUsername
		if user == "" {
			user = s.ref.Username
		}
		if s.side == security.Leader && s.ref.ReplicationUsername == "" {
			add(contract.CheckReplicationUser, true, fmt.Sprintf("%s: the replication user %s must exist there mapped to %s; osccr cannot check it (the leader's service names no replication user)",
				s.ref.Name, names[security.Follower], role), "")
			continue
		}
		info, err := s.c.ReplicationAuthInfo(ctx)
		switch {
		case err == nil:
		case errors.Is(err, opensearch.ErrUnauthorized):
			add(contract.CheckReplicationUser, false, fmt.Sprintf("%s refuses the replication user %s's credentials (%v)", s.ref.Name, user, err),
				"check the replication user's name and its password (replication_password_file or _env on the worker)")
			continue
		default:
			add(contract.CheckReplicationUser, false, fmt.Sprintf("cannot ask %s who the replication user %s is: %v", s.ref.Name, user, err), "check that the cluster is up")
			continue
		}
		names[s.side] = info.User
		mapped := slices.Contains(info.Roles, role) || slices.Contains(info.Roles, security.RoleAllAccess)
		add(contract.CheckReplicationUser, mapped, fmt.Sprintf("%s: the replication user %s is mapped to %s", s.ref.Name, info.User, orNone(info.Roles)),
			fmt.Sprintf("map %s to %s on %s (roles_mapping.yml or the security plugin's API): every _start names it in use_roles", info.User, role, s.ref.Name))
	}
	if l, f := names[security.Leader], names[security.Follower]; l != "" && f != "" && l != f {
		add(contract.CheckReplicationUser, false, fmt.Sprintf("the replication user is %s on %s but %s on %s", f, in.Follower.Name, l, in.Leader.Name),
			fmt.Sprintf("use the same user on both (the plugin runs the leader side as the user that started the replication): create %s on %s mapped to %s", f, in.Leader.Name, RoleReplicationLeader))
	}
}

// nodesDNCheck checks that the leader accepts the follower's nodes: their certificate's DN (read
// on the follower's transport port) must be in the leader's plugins.security.nodes_dn. That
// setting is static: without nodes_dn_dynamic_config_enabled (itself static) only a restart
// adds an entry. When osccr cannot tell, it says what the entry must be.
func nodesDNCheck(ctx context.Context, in contract.PreflightInput, leader securityAPI, fcert transportCerts, add adder) {
	static := fmt.Sprintf("add it to plugins.security.nodes_dn in opensearch.yml on every node of %s and restart them (a static setting)", in.Leader.Name)
	if fcert.err != nil {
		add(contract.CheckNodesDN, true, fmt.Sprintf("cannot tell (%v): %s must list the DN of %s's node certificates in plugins.security.nodes_dn (static: a restart)",
			fcert.err, in.Leader.Name, in.Follower.Name), "")
		return
	}
	nd, err := leader.NodesDN(ctx)
	if err != nil {
		add(contract.CheckNodesDN, false, fmt.Sprintf("cannot read the nodes_dn of %s: %v", in.Leader.Name, err),
			fixFor(err, in.Leader, security.Leader, "check that the leader is up"))
		return
	}
	switch {
	case len(nd.NodesDN) == 0:
		// Seen on 2.19.4: _nodes/settings does not show the security plugin's nodes_dn (a
		// filtered setting), so an empty list says nothing.
		add(contract.CheckNodesDN, true, fmt.Sprintf("cannot tell: the node settings of %s do not show plugins.security.nodes_dn; it must list %q (%s's node DN), a static setting: a restart",
			in.Leader.Name, fcert.Subject, in.Follower.Name), "")
	case nd.Allows(fcert.Subject):
		add(contract.CheckNodesDN, true, fmt.Sprintf("%s allows %s", in.Leader.Name, fcert.Subject), "")
	case nd.Dynamic:
		add(contract.CheckNodesDN, true, fmt.Sprintf("%q is not in the static plugins.security.nodes_dn of %s; it takes run-time entries (nodesdn API), which osccr cannot read: if the follower cannot connect, add it there or statically",
			fcert.Subject, in.Leader.Name), "")
	default:
		add(contract.CheckNodesDN, false, fmt.Sprintf("%s does not allow %s's node DN %q (its nodes_dn: %s)", in.Leader.Name, in.Follower.Name, fcert.Subject, orNone(nd.NodesDN)),
			fmt.Sprintf("%s; or enable plugins.security.nodes_dn_dynamic_config_enabled (also static) and add it with the nodesdn API", static))
	}
}

// transportTrustFix names the missing trust when the follower could not connect and the two
// sides' transport certificates come from different CAs: each side must trust the other's.
func transportTrustFix(in contract.PreflightInput, lcert, fcert transportCerts) (detail, fix string, ok bool) {
	if lcert.err != nil || fcert.err != nil || lcert.Issuer == fcert.Issuer {
		return "", "", false
	}
	detail = fmt.Sprintf("; %s's transport certificate is issued by %q, %s's by %q: two CAs", in.Leader.Name, lcert.Issuer, in.Follower.Name, fcert.Issuer)
	fix = fmt.Sprintf("make each side trust the other's CA: add the CA %q%s to plugins.security.ssl.transport.pemtrustedcas_filepath on every node of %s, and the CA %q%s on every node of %s, then restart them",
		fcert.Issuer, caIn(fcert.Issuer, in.Follower, in.Leader), in.Leader.Name, lcert.Issuer, caIn(lcert.Issuer, in.Leader, in.Follower), in.Follower.Name)
	return detail, fix, true
}

// nextCert parses the next PEM certificate of rest; nil when there is none.
func nextCert(rest []byte) (*x509.Certificate, []byte) {
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, nil
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			return c, rest
		}
	}
}
