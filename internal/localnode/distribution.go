// Package localnode launches and stops real OpenSearch node processes on this machine from an
// unpacked OpenSearch distribution (the one `make opensearch` fetches). It is the core of the
// `local` provisioner: each node has its own config, data and log directories under a node
// directory, its own loopback ports and heap, and survives restarts of the osccr process (a node
// that is already running is found through its node directory, never started twice).
package localnode

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// CCRPluginName is the directory name of the cross-cluster-replication plugin inside a
// distribution's plugins/ folder.
const CCRPluginName = "opensearch-cross-cluster-replication"

// SecurityPluginName is the directory name of the security plugin inside a distribution.
const SecurityPluginName = "opensearch-security"

// DefaultRunAsUser is the unprivileged account nodes run as when osccr itself runs as root:
// OpenSearch refuses to start as root and has no setting to override that.
const DefaultRunAsUser = "osccr"

// Distribution is an unpacked OpenSearch distribution that nodes are started from.
type Distribution struct {
	// Home is the distribution's top directory (it holds bin/opensearch).
	Home string
	// JavaHome is the JDK the nodes run on; empty means $JAVA_HOME, else the `java` on $PATH.
	JavaHome string
	// RunAsUser is the account nodes run as when this process is root; empty means DefaultRunAsUser.
	RunAsUser string
}

// ErrNoDistribution says that no OpenSearch distribution was found where one was expected.
var ErrNoDistribution = errors.New("no OpenSearch distribution found: run `make opensearch` or set OSCCR_OPENSEARCH_HOME")

// DistributionFromEnv finds the distribution to use: $OSCCR_OPENSEARCH_HOME if set, else the
// `.opensearch/current` link that `make opensearch` creates, looked for in the working directory
// and its parents (so tests in any package find the repository's copy). $OSCCR_NODE_USER names
// the account nodes run as when osccr is root.
func DistributionFromEnv() (Distribution, error) {
	if home := os.Getenv("OSCCR_OPENSEARCH_HOME"); home != "" {
		return openDistribution(home)
	}
	dir, err := os.Getwd()
	if err != nil {
		return Distribution{}, fmt.Errorf("find OpenSearch distribution: %w", err)
	}
	for {
		candidate := filepath.Join(dir, ".opensearch", "current")
		if _, err := os.Stat(candidate); err == nil {
			return openDistribution(candidate)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return Distribution{}, ErrNoDistribution
		}
		dir = parent
	}
}

// SecureDistributionFromEnv finds the secured distribution (the same OpenSearch and plugins
// plus the security plugin) that `make opensearch` installs beside the plain one: from
// OSCCR_OPENSEARCH_SECURE_HOME, else current-secure beside the plain distribution's link.
func SecureDistributionFromEnv() (Distribution, error) {
	if home := os.Getenv("OSCCR_OPENSEARCH_SECURE_HOME"); home != "" {
		return openDistribution(home)
	}
	plain, err := DistributionFromEnv()
	if err != nil {
		return Distribution{}, err
	}
	d, err := openDistribution(filepath.Join(filepath.Dir(plain.Home), "current-secure"))
	if err != nil {
		return Distribution{}, fmt.Errorf("%w; run `make opensearch`, which installs the security plugin beside it", err)
	}
	if !d.HasPlugin(SecurityPluginName) {
		return Distribution{}, fmt.Errorf("%s has no %s plugin; run `make opensearch`", d.Home, SecurityPluginName)
	}
	return d, nil
}

func openDistribution(home string) (Distribution, error) {
	resolved, err := filepath.EvalSymlinks(home)
	if err != nil {
		return Distribution{}, fmt.Errorf("%w (looked at %s: %v)", ErrNoDistribution, home, err)
	}
	d := Distribution{Home: resolved, RunAsUser: os.Getenv("OSCCR_NODE_USER")}
	if err := d.validate(); err != nil {
		return Distribution{}, err
	}
	return d, nil
}

func (d Distribution) validate() error {
	if _, err := os.Stat(filepath.Join(d.Home, "bin", "opensearch")); err != nil {
		return fmt.Errorf("%w (%s has no bin/opensearch)", ErrNoDistribution, d.Home)
	}
	return nil
}

// Version reads the distribution's OpenSearch version from the name of its core jar.
func (d Distribution) Version() (string, error) {
	matches, err := filepath.Glob(filepath.Join(d.Home, "lib", "opensearch-[0-9]*.jar"))
	if err != nil || len(matches) == 0 {
		return "", fmt.Errorf("read OpenSearch version under %s: no lib/opensearch-<version>.jar", d.Home)
	}
	base := strings.TrimSuffix(filepath.Base(matches[0]), ".jar")
	return strings.TrimPrefix(base, "opensearch-"), nil
}

// Plugins lists the plugins installed in the distribution.
func (d Distribution) Plugins() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(d.Home, "plugins"))
	if err != nil {
		return nil, fmt.Errorf("list plugins of %s: %w", d.Home, err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// HasPlugin reports whether the named plugin is installed in the distribution.
func (d Distribution) HasPlugin(name string) bool {
	info, err := os.Stat(filepath.Join(d.Home, "plugins", name))
	return err == nil && info.IsDir()
}

func (d Distribution) javaHome() (string, error) {
	if d.JavaHome != "" {
		return d.JavaHome, nil
	}
	if env := os.Getenv("JAVA_HOME"); env != "" {
		return env, nil
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return "", errors.New("no JDK found: install JDK 17 or set JAVA_HOME")
	}
	resolved, err := filepath.EvalSymlinks(java)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", java, err)
	}
	return filepath.Dir(filepath.Dir(resolved)), nil
}

// credential says which account a node process must run as: nil when this process is not root.
type credential struct {
	uid, gid uint32
}

func (d Distribution) runAs() (*credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	name := d.RunAsUser
	if name == "" {
		name = DefaultRunAsUser
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("OpenSearch refuses to run as root and user %q does not exist: create it with `useradd --system --no-create-home %s` (make opensearch does this) or run osccr as an unprivileged user: %w", name, name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q has a non-numeric uid %q", name, u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q has a non-numeric gid %q", name, u.Gid)
	}
	return &credential{uid: uint32(uid), gid: uint32(gid)}, nil
}
