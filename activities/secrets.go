package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/osccr/osccr/internal/contract"
	"go.temporal.io/sdk/temporal"
)

// DefaultSecretEnvPrefix is the prefix a password_env variable must have unless the worker is
// told another (--secret-env-prefix).
const DefaultSecretEnvPrefix = "OSCCR_SECRET_"

// GeneratedSecretName is the file name of the admin password osccr generates for each secured
// local service (internal/provision): no reference given by a person may name such a file.
const GeneratedSecretName = "admin.password"

// ErrSecretRefused marks a secret reference the worker's SecretPolicy refuses.
var ErrSecretRefused = errors.New("secret reference refused")

// SecretPolicy is what a secret given by reference (a password file, a password variable, a
// client key) may be: the one place the rule lives. The worker applies it before it reads any
// reference that a person gave (a registered cluster's auth), so a reference cannot turn the
// worker into a reader of its own files or environment, whose content it would send as Basic
// auth to a URL from the same request. Rules, each refusal naming its own and the fix:
//
//  1. files only under a trusted directory (TrustedDirs, after resolving symbolic links);
//  2. never osccr's generated per-service secrets (GeneratedDirs, or any file named
//     GeneratedSecretName), whatever directory is trusted;
//  3. a regular file, owned by the account the worker runs as, not readable or writable by
//     group or others (mode 0600 or 0400);
//  4. password variables only with EnvPrefix.
//
// The zero policy trusts no directory and only DefaultSecretEnvPrefix.
type SecretPolicy struct {
	// TrustedDirs are the absolute directories secret files may be in (the worker's default:
	// <state-dir>/secrets).
	TrustedDirs []string
	// GeneratedDirs hold osccr's generated per-service secrets (the local backend's services
	// directory): refused by name.
	GeneratedDirs []string
	// EnvPrefix is the prefix a password variable must have; "" means DefaultSecretEnvPrefix.
	EnvPrefix string
}

func (p SecretPolicy) envPrefix() string {
	if p.EnvPrefix == "" {
		return DefaultSecretEnvPrefix
	}
	return p.EnvPrefix
}

// Check applies the policy to every secret reference of a: the password files and variables of
// osccr's user and of the replication user, and the client key. CA and client certificate files
// are public material and keep only ClusterAuth.Check's rules. It returns every refusal at once,
// wrapped in ErrSecretRefused.
func (p SecretPolicy) Check(a contract.ClusterAuth) error {
	var problems []error
	for _, ref := range []struct{ field, value string }{{"password_env", a.PasswordEnv}, {"replication_password_env", a.ReplicationPasswordEnv}} {
		if ref.value != "" {
			if err := p.CheckEnv(ref.field, ref.value); err != nil {
				problems = append(problems, err)
			}
		}
	}
	for _, ref := range []struct{ field, value string }{{"password_file", a.PasswordFile}, {"replication_password_file", a.ReplicationPasswordFile}, {"key_file", a.KeyFile}} {
		if ref.value != "" {
			if err := p.CheckFile(ref.field, ref.value); err != nil {
				problems = append(problems, err)
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrSecretRefused, errors.Join(problems...))
}

// CheckEnv applies rule 4 to a variable named by field.
func (p SecretPolicy) CheckEnv(field, name string) error {
	if prefix := p.envPrefix(); !strings.HasPrefix(name, prefix) || name == prefix {
		return fmt.Errorf("%s %s: the worker reads secrets only from variables named %s* (rule: secret variable prefix); put the password in %s%s in the worker's environment and name that",
			field, name, prefix, prefix, strings.ToUpper(strings.Trim(strings.Map(envChar, name), "_")))
	}
	return nil
}

func envChar(r rune) rune {
	if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
		return r
	}
	return '_'
}

// CheckFile applies rules 1 to 3 to a file named by field.
func (p SecretPolicy) CheckFile(field, path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s %s: give an absolute path (it is read on the worker's machine)", field, path)
	}
	clean := filepath.Clean(path)
	if gen, ok := p.generated(clean); ok {
		return fmt.Errorf("%s %s: %s (rule: generated secrets); osccr reads a local service's generated password itself: reveal it with `osccr service credentials` and give a file of your own", field, path, gen)
	}
	resolved, err := filepath.EvalSymlinks(clean)
	if err != nil {
		return fmt.Errorf("%s %s: cannot resolve it on the worker's machine (rule: trusted directories): %v; put the file in %s", field, path, err, p.trustedList())
	}
	if gen, ok := p.generated(resolved); ok {
		return fmt.Errorf("%s %s: it leads to %s: %s (rule: generated secrets); give a file of your own", field, path, resolved, gen)
	}
	if !p.trusted(resolved) {
		return fmt.Errorf("%s %s: the worker reads secret files only under %s (rule: trusted directories); move the file there (mode 0600, owned by the worker's account), or start the worker with --trusted-secret-dir naming its directory", field, path, p.trustedList())
	}
	info, err := os.Stat(resolved)
	if err != nil {
		return fmt.Errorf("%s %s: %v (rule: trusted directories)", field, path, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s %s: not a regular file (rule: regular files only); give a file holding the secret", field, path)
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s %s: owned by uid %d, not by the worker's account (uid %d) (rule: owned by the worker); chown it to the account the worker runs as", field, path, st.Uid, os.Geteuid())
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s %s: mode %04o lets others read or change it (rule: private files); chmod 600 %s", field, path, perm, path)
	}
	return nil
}

// generated says whether path is one of osccr's generated per-service secrets, and whose.
func (p SecretPolicy) generated(path string) (string, bool) {
	for _, dir := range p.GeneratedDirs {
		if rel, ok := under(path, dir); ok {
			service, _, _ := strings.Cut(rel, string(filepath.Separator))
			return fmt.Sprintf("a file of local service %s, whose secrets osccr generates and keeps", service), true
		}
	}
	if filepath.Base(path) == GeneratedSecretName {
		return fmt.Sprintf("%s is the name of the admin password osccr generates for a local service", GeneratedSecretName), true
	}
	return "", false
}

func (p SecretPolicy) trusted(path string) bool {
	for _, dir := range p.TrustedDirs {
		if d, err := filepath.EvalSymlinks(dir); err == nil {
			dir = d
		}
		if rel, ok := under(path, dir); ok && rel != "" {
			return true
		}
	}
	return false
}

func (p SecretPolicy) trustedList() string {
	if len(p.TrustedDirs) == 0 {
		return "no directory (this worker trusts none: start it with --trusted-secret-dir)"
	}
	return strings.Join(p.TrustedDirs, ", ")
}

// under returns path relative to dir when path is dir or inside it.
func under(path, dir string) (string, bool) {
	rel, err := filepath.Rel(filepath.Clean(dir), path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	if rel == "." {
		return "", true
	}
	return rel, true
}

// CheckSecretRefs applies the worker's SecretPolicy to a cluster's references, before a
// registration starts anything: the application layer asks the worker, which alone knows its
// trusted directories and can see its files. A refusal is non-retryable and names its rule.
func (a *Activities) CheckSecretRefs(_ context.Context, auth contract.ClusterAuth) error {
	if err := a.Secrets.Check(auth); err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeSecretRefused, nil)
	}
	return nil
}

// checkRef applies the policy to a reference the worker is about to read. The one reference
// exempt is a local service's own generated admin password (<service>/admin.password), which
// osccr wrote and which its state names for that service alone; every other reference was
// given by a person and must pass.
func (p SecretPolicy) checkRef(ref contract.ClusterRef) error {
	auth := ref.ClusterAuth
	if auth.PasswordFile != "" && filepath.Base(auth.PasswordFile) == GeneratedSecretName && filepath.Base(filepath.Dir(auth.PasswordFile)) == ref.Name {
		auth.PasswordFile = ""
	}
	if err := p.Check(auth); err != nil {
		return fmt.Errorf("cluster %s: %w", ref.Name, err)
	}
	return nil
}
