// Package security configures the OpenSearch security plugin on a node osccr starts: TLS on
// the transport and HTTP layers with certificates from osccr's CA (internal/pki), the node and
// admin DNs, and the internal users with their roles, loaded into the security index when the
// node first starts (no securityadmin run). Passwords are stored only as bcrypt hashes.
package security

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/pki"
)

// Built-in roles of the security and cross-cluster-replication plugins.
const (
	RoleAllAccess         = "all_access"
	RoleReplicationLeader = "cross_cluster_replication_leader_full_access"
	// RoleReplicationFollower is the follower side's role, named in use_roles on every start.
	RoleReplicationFollower = "cross_cluster_replication_follower_full_access"
)

// User is an internal user of a secured cluster and the roles it is mapped to.
type User struct {
	Name     string
	Password string
	Roles    []string
}

// Node is what a secured node needs beside its plain configuration.
type Node struct {
	// Cluster and Name are the node's cluster and node name; Unit is the OU of its certificates
	// (the installation or the test).
	Cluster, Name, Unit string
	CA                  *pki.CA
	Users               []User
	// NodesDN are the DNs of other clusters' nodes allowed to connect as nodes (a follower's,
	// on its leader), beside this cluster's own.
	NodesDN []string
	// Roles, when given, are written as the cluster's roles.yml (the users' custom roles, such
	// as OsccrLeaderRole); the built-in roles need none.
	Roles []Role
}

// Paths of the files in a secured node's config directory.
const (
	CAFile        = "certs/ca.pem"
	NodeCertFile  = "certs/node.pem"
	NodeKeyFile   = "certs/node-key.pem"
	AdminCertFile = "certs/admin.pem"
	AdminKeyFile  = "certs/admin-key.pem"
	securityDir   = "opensearch-security"
)

// NodeDN is the DN of a node's certificate.
func NodeDN(nodeName, unit string) string { return pki.DN(nodeName+".node", unit) }

// AdminDN is the DN of the admin certificate of an installation (or test) unit.
func AdminDN(unit string) string { return pki.DN("admin", unit) }

// Apply adds the security plugin's configuration to a node's spec: settings, certificates and
// keys (written 0600 into its config directory), the internal users and their role mappings.
func Apply(spec *localnode.Spec, n Node) error {
	nodeCert, err := n.CA.Issue(n.Name+".node", n.Unit, []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"})
	if err != nil {
		return err
	}
	admin, err := n.CA.Issue("admin", n.Unit, nil, nil)
	if err != nil {
		return err
	}
	users, err := internalUsers(n.Users)
	if err != nil {
		return err
	}
	if spec.Settings == nil {
		spec.Settings = map[string]string{}
	}
	for k, v := range map[string]string{
		"plugins.security.ssl.transport.pemcert_filepath":              NodeCertFile,
		"plugins.security.ssl.transport.pemkey_filepath":               NodeKeyFile,
		"plugins.security.ssl.transport.pemtrustedcas_filepath":        CAFile,
		"plugins.security.ssl.transport.enforce_hostname_verification": "true",
		"plugins.security.ssl.http.enabled":                            "true",
		"plugins.security.ssl.http.pemcert_filepath":                   NodeCertFile,
		"plugins.security.ssl.http.pemkey_filepath":                    NodeKeyFile,
		"plugins.security.ssl.http.pemtrustedcas_filepath":             CAFile,
		"plugins.security.ssl.http.clientauth_mode":                    "OPTIONAL",
		"plugins.security.allow_default_init_securityindex":            "true",
		"plugins.security.nodes_dn_dynamic_config_enabled":             "true",
	} {
		spec.Settings[k] = v
	}
	if spec.ListSettings == nil {
		spec.ListSettings = map[string][]string{}
	}
	spec.ListSettings["plugins.security.authcz.admin_dn"] = []string{admin.Subject}
	spec.ListSettings["plugins.security.nodes_dn"] = slices.Compact(slices.Sorted(slices.Values(append([]string{nodeCert.Subject}, n.NodesDN...))))
	spec.ListSettings["plugins.security.restapi.roles_enabled"] = []string{RoleAllAccess}
	spec.CopyConfig = append(spec.CopyConfig, securityDir)
	if spec.Files == nil {
		spec.Files = map[string][]byte{}
	}
	spec.Files[CAFile] = n.CA.CertPEM
	spec.Files[NodeCertFile] = nodeCert.CertPEM
	spec.Files[NodeKeyFile] = nodeCert.KeyPEM
	spec.Files[AdminCertFile] = admin.CertPEM
	spec.Files[AdminKeyFile] = admin.KeyPEM
	spec.Files[securityDir+"/internal_users.yml"] = users
	spec.Files[securityDir+"/roles_mapping.yml"] = rolesMapping(n.Users)
	if len(n.Roles) > 0 {
		// Beside the plugin's default roles (among them the replication plugin's two).
		if spec.Append == nil {
			spec.Append = map[string][]byte{}
		}
		spec.Append[securityDir+"/roles.yml"] = rolesEntries(n.Roles...)
	}
	spec.TLS = &localnode.TLS{CA: CAFile, AdminCert: AdminCertFile, AdminKey: AdminKeyFile}
	return nil
}

// internalUsers renders internal_users.yml: each user with its password's bcrypt hash.
func internalUsers(users []User) ([]byte, error) {
	var b strings.Builder
	b.WriteString("_meta:\n  type: \"internalusers\"\n  config_version: 2\n")
	for _, u := range users {
		hash, err := bcrypt.GenerateFromPassword([]byte(u.Password), 12)
		if err != nil {
			return nil, fmt.Errorf("hash the password of %s: %w", u.Name, err)
		}
		fmt.Fprintf(&b, "%q:\n  hash: %q\n  reserved: true\n  description: \"osccr\"\n", u.Name, hash)
	}
	return []byte(b.String()), nil
}

// rolesMapping renders roles_mapping.yml: each role with the users mapped to it.
func rolesMapping(users []User) []byte {
	byRole := map[string][]string{}
	for _, u := range users {
		for _, r := range u.Roles {
			byRole[r] = append(byRole[r], u.Name)
		}
	}
	var b strings.Builder
	b.WriteString("_meta:\n  type: \"rolesmapping\"\n  config_version: 2\n")
	for _, role := range slices.Sorted(maps.Keys(byRole)) {
		quoted := make([]string, len(byRole[role]))
		for i, u := range byRole[role] {
			quoted[i] = fmt.Sprintf("%q", u)
		}
		fmt.Fprintf(&b, "%q:\n  reserved: false\n  users: [%s]\n", role, strings.Join(quoted, ", "))
	}
	return []byte(b.String())
}
