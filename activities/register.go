// Package activities does all of osccr's I/O on behalf of the workflows: calls to OpenSearch
// and its cross-cluster-replication plugin, provisioning, verification. Activities are
// idempotent, so Temporal may retry them after any failure or worker crash.
package activities

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/osccr/osccr/internal/contract"
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
	Clients func(contract.ClusterRef) (Cluster, error)
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

// ClientConfig is the typed client's configuration for a cluster: the password read from the
// worker's environment or file, the TLS material from the worker's files.
func ClientConfig(ref contract.ClusterRef) (opensearch.Config, error) {
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
func NewClient(ref contract.ClusterRef) (*opensearch.Client, error) {
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

func (a *Activities) client(ref contract.ClusterRef) (Cluster, error) {
	if err := a.Secrets.checkRef(ref); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeSecretRefused, nil)
	}
	open := a.Clients
	if open == nil {
		open = func(ref contract.ClusterRef) (Cluster, error) { return NewClient(ref) }
	}
	c, err := open(ref)
	if err != nil {
		return nil, classify(err)
	}
	return c, nil
}
