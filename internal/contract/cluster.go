package contract

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ClusterRef says how to reach a cluster. It travels in workflow history, so it never holds a
// secret: its ClusterAuth names files and environment variables on the worker's machine.
type ClusterRef struct {
	// Name is the osccr service name of the cluster.
	Name string `json:"name"`
	// URL is the cluster's REST endpoint.
	URL string `json:"url"`
	// TransportAddress is host:port of the cluster's transport layer, the seed a follower uses.
	TransportAddress string `json:"transport_address"`
	ClusterAuth
}

// ClusterAuth says how to authenticate to a cluster and how to trust it, by reference only:
// paths of files and names of environment variables on the worker's machine, never a password,
// key or certificate itself (it travels in workflow history).
type ClusterAuth struct {
	// Username for basic auth, if the cluster has security enabled.
	Username string `json:"username,omitempty"`
	// PasswordEnv names the worker's environment variable holding the password; PasswordFile a
	// file holding it (its first line). At most one of them.
	PasswordEnv  string `json:"password_env,omitempty"`
	PasswordFile string `json:"password_file,omitempty"`
	// CAFile is a PEM bundle of the CAs that sign the cluster's HTTPS certificate ("" trusts
	// the system's roots).
	CAFile string `json:"ca_file,omitempty"`
	// CertFile and KeyFile are a client certificate and its key, to authenticate with.
	CertFile string `json:"cert_file,omitempty"`
	KeyFile  string `json:"key_file,omitempty"`
	// InsecureSkipVerify trusts any certificate the cluster shows: for a first test only; every
	// client made with it logs a warning.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
	// ReplicationUsername is the least-privilege replication user (security.ReplicationUser):
	// the replication plugin's calls (_start, _pause, _resume, _stop, _status, stats) are signed
	// by it, so the replication runs as that user with the roles named in use_roles. The plugin
	// needs a user of that name on both clusters, mapped to the leader role on the leader and
	// to the follower role on the follower. Empty: osccr's own user signs them.
	// ReplicationPasswordEnv and ReplicationPasswordFile name where its password is, as for
	// osccr's user.
	ReplicationUsername     string `json:"replication_username,omitempty"`
	ReplicationPasswordEnv  string `json:"replication_password_env,omitempty"`
	ReplicationPasswordFile string `json:"replication_password_file,omitempty"`
}

// Secured reports whether the cluster runs the security plugin as far as osccr can tell from
// how it is reached: over HTTPS, with a user or a client certificate. Replication between
// secured clusters names its roles (use_roles) on every start.
func (a ClusterAuth) Secured(url string) bool {
	return strings.HasPrefix(url, "https://") && (a.Username != "" || a.CertFile != "")
}

// Check refuses a reference that cannot work whatever the worker's machine holds.
func (a ClusterAuth) Check(url string) error {
	var problems []error
	if a.PasswordEnv != "" && a.PasswordFile != "" {
		problems = append(problems, errors.New("give the password in an environment variable or in a file, not both"))
	}
	if (a.PasswordEnv != "" || a.PasswordFile != "") && a.Username == "" {
		problems = append(problems, errors.New("a password needs a username"))
	}
	if a.ReplicationPasswordEnv != "" && a.ReplicationPasswordFile != "" {
		problems = append(problems, errors.New("give the replication user's password in an environment variable or in a file, not both"))
	}
	if (a.ReplicationPasswordEnv != "" || a.ReplicationPasswordFile != "") != (a.ReplicationUsername != "") {
		problems = append(problems, errors.New("a replication user needs its username and its password (variable or file), one without the other cannot sign a call"))
	}
	if (a.CertFile == "") != (a.KeyFile == "") {
		problems = append(problems, errors.New("a client certificate needs both its certificate file and its key file"))
	}
	https := strings.HasPrefix(url, "https://")
	if !https && (a.CAFile != "" || a.CertFile != "" || a.InsecureSkipVerify) {
		problems = append(problems, fmt.Errorf("TLS options need an https:// URL, not %s", url))
	}
	if !https && (a.Username != "" || a.ReplicationUsername != "") {
		problems = append(problems, fmt.Errorf("basic auth over plain HTTP sends the password in clear: use an https:// URL, not %s", url))
	}
	if a.InsecureSkipVerify && a.CAFile != "" {
		problems = append(problems, errors.New("a CA file and skipping verification contradict each other: give the CA file only"))
	}
	for _, f := range []string{a.PasswordFile, a.CAFile, a.CertFile, a.KeyFile, a.ReplicationPasswordFile} {
		if f != "" && !filepath.IsAbs(f) {
			problems = append(problems, fmt.Errorf("%s: give an absolute path (it is read on the worker's machine)", f))
		}
	}
	return errors.Join(problems...)
}
