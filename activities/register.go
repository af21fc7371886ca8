// Package activities does all of osccr's I/O on behalf of the workflows: calls to OpenSearch
// and its cross-cluster-replication plugin, provisioning, verification. Activities are
// idempotent, so Temporal may retry them after any failure or worker crash.
package activities

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/osccr/osccr/internal/lag"
	"github.com/osccr/osccr/internal/metrics"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/plan"
	"github.com/osccr/osccr/internal/provision"
)

// Register adds every osccr activity to a worker.
func Register(r worker.ActivityRegistry, a *Activities) {
	r.RegisterActivity(a)
}

// Activities is the receiver of every osccr activity; its fields are its dependencies.
type Activities struct {
	// Clients opens a client for a cluster. Nil means NewClient.
	Clients func(ClusterRef) (Cluster, error)
	// Local runs services as nodes on this machine; nil when the worker has no distribution.
	Local *provision.Local
	// Static attaches existing clusters.
	Static *provision.Static
	// Plans is the plan catalog; nil means plan.Default().
	Plans *plan.Catalog
	// Machine names this worker's machine; its worker also polls the machine's own task queue
	// (workflows.MachineTaskQueue), where the activities bound to the local nodes it runs go.
	Machine string
	// Lag holds the checkpoint samples the watches take, for the lag in seconds; nil takes
	// none.
	Lag *lag.Tracker
	// Metrics receives what the worker's Prometheus endpoint shows; nil records nothing.
	Metrics *metrics.Metrics
	// Secrets is what a secret given by reference may be; every such reference is checked
	// before the worker reads it.
	Secrets SecretPolicy
}

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

// ClientConfig is the typed client's configuration for a cluster: the password read from the
// worker's environment or file, the TLS material from the worker's files.
func ClientConfig(ref ClusterRef) (opensearch.Config, error) {
	cfg := opensearch.Config{URLs: []string{ref.URL}, Username: ref.Username}
	switch {
	case ref.PasswordEnv != "":
		pw, ok := os.LookupEnv(ref.PasswordEnv)
		if !ok {
			return cfg, fmt.Errorf("cluster %s: password variable %s is not set in the worker's environment", ref.Name, ref.PasswordEnv)
		}
		cfg.Password = pw
	case ref.PasswordFile != "":
		raw, err := os.ReadFile(ref.PasswordFile)
		if err != nil {
			return cfg, fmt.Errorf("cluster %s: read the password file on the worker's machine: %w", ref.Name, err)
		}
		cfg.Password = strings.TrimRight(strings.SplitN(string(raw), "\n", 2)[0], "\r")
	}
	if ref.ReplicationUsername != "" {
		pw, err := readPassword(ref.Name, "the replication user's password", ref.ReplicationPasswordEnv, ref.ReplicationPasswordFile)
		if err != nil {
			return cfg, err
		}
		cfg.ReplicationUsername, cfg.ReplicationPassword = ref.ReplicationUsername, pw
	}
	if !strings.HasPrefix(ref.URL, "https://") {
		return cfg, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if ref.CAFile != "" {
		pem, err := os.ReadFile(ref.CAFile)
		if err != nil {
			return cfg, fmt.Errorf("cluster %s: read the CA file on the worker's machine: %w", ref.Name, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return cfg, fmt.Errorf("cluster %s: CA file %s holds no PEM certificate", ref.Name, ref.CAFile)
		}
	}
	if ref.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(ref.CertFile, ref.KeyFile)
		if err != nil {
			return cfg, fmt.Errorf("cluster %s: load the client certificate %s (key %s): %w", ref.Name, ref.CertFile, ref.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	if ref.InsecureSkipVerify {
		slog.Warn("TLS verification is OFF for this cluster: anyone on the path can impersonate it; give its CA file instead", "cluster", ref.Name, "url", ref.URL)
		tc.InsecureSkipVerify = true
	}
	cfg.TLS = tc
	return cfg, nil
}

// readPassword reads a password from the worker's environment variable env or its file (the
// first line).
func readPassword(cluster, what, env, file string) (string, error) {
	switch {
	case env != "":
		pw, ok := os.LookupEnv(env)
		if !ok {
			return "", fmt.Errorf("cluster %s: %s: variable %s is not set in the worker's environment", cluster, what, env)
		}
		return pw, nil
	case file != "":
		raw, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("cluster %s: read %s on the worker's machine: %w", cluster, what, err)
		}
		return strings.TrimRight(strings.SplitN(string(raw), "\n", 2)[0], "\r"), nil
	}
	return "", nil
}

// NewClient opens a client for a cluster, reading its password and TLS material on the
// worker's machine.
func NewClient(ref ClusterRef) (*opensearch.Client, error) {
	cfg, err := ClientConfig(ref)
	if err != nil {
		return nil, err
	}
	c, err := opensearch.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", ref.Name, err)
	}
	return c, nil
}

func (a *Activities) client(ref ClusterRef) (Cluster, error) {
	if err := a.Secrets.checkRef(ref); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeSecretRefused, nil)
	}
	open := a.Clients
	if open == nil {
		open = func(ref ClusterRef) (Cluster, error) { return NewClient(ref) }
	}
	c, err := open(ref)
	if err != nil {
		return nil, classify(err)
	}
	return c, nil
}
