package workerapp

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"go.uber.org/fx"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/lag"
	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/metrics"
	"github.com/osccr/osccr/internal/plan"
	"github.com/osccr/osccr/internal/provision"
)

// ActivitiesModule provides *activities.Activities with its dependencies: the plan catalog and
// the provisioning backends.
var ActivitiesModule = fx.Module("activities",
	fx.Provide(newActivities),
)

// newActivities builds the activities' dependencies. The local backend keeps its nodes under
// <state-dir>/services; it is absent (and local services refused with a clear error) when the
// worker's machine has no OpenSearch distribution, and runs plain services only when it has no
// distribution with the security plugin. Secured services' certificates come from the
// installation's CA in the PKI directory.
func newActivities(cfg Config, logger *slog.Logger) (*activities.Activities, error) {
	tracker := lag.New()
	a := &activities.Activities{Static: provision.NewStatic(), Plans: plan.Default(), Lag: tracker, Metrics: metrics.New(tracker)}
	base, err := filepath.Abs(filepath.Join(cfg.StateDir, "services"))
	if err != nil {
		return nil, fmt.Errorf("local services directory: %w", err)
	}
	if a.Secrets, err = secretPolicy(cfg, base); err != nil {
		return nil, err
	}
	dist, err := localnode.DistributionFromEnv()
	if err != nil {
		logger.Info("local services disabled", "reason", err)
		return a, nil
	}
	// Nodes may run as an unprivileged account (OpenSearch refuses root): it must reach them.
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("create local services directory: %w", err)
	}
	a.Local = provision.NewLocal(dist, base)
	a.Machine = cfg.Machine
	secure, err := localnode.SecureDistributionFromEnv()
	if err != nil {
		logger.Info("secured local services disabled (plain ones only: --security=none)", "reason", err)
		return a, nil
	}
	pkiDir := cfg.PKIDir
	if pkiDir == "" {
		pkiDir = filepath.Join(cfg.StateDir, "pki")
	}
	if pkiDir, err = filepath.Abs(pkiDir); err != nil {
		return nil, fmt.Errorf("installation CA directory: %w", err)
	}
	a.Local.WithSecurity(secure, pkiDir)
	return a, nil
}

// secretPolicy is the worker's rule for secrets given by reference: files only under the
// trusted directories (default <state-dir>/secrets, made 0700 when absent), never a file of the
// local services' directory (osccr's generated secrets), variables only with the prefix.
func secretPolicy(cfg Config, servicesDir string) (activities.SecretPolicy, error) {
	p := activities.SecretPolicy{GeneratedDirs: []string{servicesDir}, EnvPrefix: cfg.SecretEnvPrefix}
	dirs := cfg.TrustedSecretDirs
	if len(dirs) == 0 {
		def := filepath.Join(cfg.StateDir, "secrets")
		// The state dir first, searchable by all: the nodes' account reaches its services/
		// through it (MkdirAll would create it 0700 along with secrets/).
		if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
			return p, fmt.Errorf("create the state directory: %w", err)
		}
		if err := os.Mkdir(def, 0o700); err != nil && !os.IsExist(err) {
			return p, fmt.Errorf("create the trusted secrets directory: %w", err)
		}
		dirs = []string{def}
	}
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return p, fmt.Errorf("trusted secrets directory %s: %w", d, err)
		}
		p.TrustedDirs = append(p.TrustedDirs, abs)
	}
	return p, nil
}
