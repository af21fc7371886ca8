package activities

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osccr/osccr/internal/contract"
)

// TestSecretPolicy checks each rule of SecretPolicy with the refusal it must give.
func TestSecretPolicy(t *testing.T) {
	state := t.TempDir()
	trusted := filepath.Join(state, "secrets")
	services := filepath.Join(state, "services")
	for _, d := range []string{trusted, filepath.Join(services, "orders")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path string, mode os.FileMode) string {
		t.Helper()
		if err := os.WriteFile(path, []byte("pw\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return path
	}
	good := write(filepath.Join(trusted, "orders.password"), 0o600)
	readOnly := write(filepath.Join(trusted, "ro.password"), 0o400)
	groupReadable := write(filepath.Join(trusted, "group.password"), 0o640)
	generated := write(filepath.Join(services, "orders", GeneratedSecretName), 0o600)
	copiedName := write(filepath.Join(trusted, GeneratedSecretName), 0o600)
	outside := write(filepath.Join(state, "outside.password"), 0o600)
	escape := filepath.Join(trusted, "escape.password")
	if err := os.Symlink(outside, escape); err != nil {
		t.Fatal(err)
	}
	toGenerated := filepath.Join(trusted, "generated-link")
	if err := os.Symlink(generated, toGenerated); err != nil {
		t.Fatal(err)
	}
	p := SecretPolicy{TrustedDirs: []string{trusted}, GeneratedDirs: []string{services}}

	for _, c := range []struct {
		name string
		auth contract.ClusterAuth
		want string // "" when accepted
	}{
		{"a private file in the trusted directory", contract.ClusterAuth{PasswordFile: good}, ""},
		{"a read-only private file", contract.ClusterAuth{ReplicationPasswordFile: readOnly}, ""},
		{"a variable with the prefix", contract.ClusterAuth{PasswordEnv: "OSCCR_SECRET_ORDERS"}, ""},
		{"/etc/shadow", contract.ClusterAuth{PasswordFile: "/etc/shadow"},
			"password_file /etc/shadow: the worker reads secret files only under " + trusted + " (rule: trusted directories); move the file there (mode 0600, owned by the worker's account), or start the worker with --trusted-secret-dir naming its directory"},
		{"another service's generated password", contract.ClusterAuth{PasswordFile: generated},
			"password_file " + generated + ": a file of local service orders, whose secrets osccr generates and keeps (rule: generated secrets); osccr reads a local service's generated password itself: reveal it with `osccr service credentials` and give a file of your own"},
		{"a generated password's name in the trusted directory", contract.ClusterAuth{PasswordFile: copiedName},
			"admin.password is the name of the admin password osccr generates for a local service (rule: generated secrets)"},
		{"a link out of the trusted directory", contract.ClusterAuth{PasswordFile: escape}, "(rule: trusted directories)"},
		{"a link to a generated password", contract.ClusterAuth{PasswordFile: toGenerated}, "it leads to " + generated + ": a file of local service orders"},
		{"the trusted directory itself", contract.ClusterAuth{PasswordFile: trusted}, "(rule: trusted directories)"},
		{"a path climbing out", contract.ClusterAuth{PasswordFile: trusted + "/../outside.password"}, "(rule: trusted directories)"},
		{"a group-readable file", contract.ClusterAuth{PasswordFile: groupReadable},
			"password_file " + groupReadable + ": mode 0640 lets others read or change it (rule: private files); chmod 600 " + groupReadable},
		{"a missing file", contract.ClusterAuth{PasswordFile: filepath.Join(trusted, "gone")}, "cannot resolve it on the worker's machine (rule: trusted directories)"},
		{"a directory", contract.ClusterAuth{KeyFile: func() string { d := filepath.Join(trusted, "dir"); _ = os.Mkdir(d, 0o700); return d }()},
			"not a regular file (rule: regular files only)"},
		{"PATH", contract.ClusterAuth{PasswordEnv: "PATH"},
			"password_env PATH: the worker reads secrets only from variables named OSCCR_SECRET_* (rule: secret variable prefix); put the password in OSCCR_SECRET_PATH in the worker's environment and name that"},
		{"the prefix alone", contract.ClusterAuth{ReplicationPasswordEnv: "OSCCR_SECRET_"}, "replication_password_env OSCCR_SECRET_: the worker reads secrets only from variables named OSCCR_SECRET_*"},
		{"a key outside", contract.ClusterAuth{KeyFile: outside}, "key_file " + outside + ": the worker reads secret files only under"},
	} {
		err := p.Check(c.auth)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrSecretRefused)):
			t.Errorf("%s: %v\nwant a refusal saying %q", c.name, err, c.want)
		}
	}

	// Another owner: only root can make one.
	if os.Geteuid() == 0 {
		other := write(filepath.Join(trusted, "other.password"), 0o600)
		if err := os.Chown(other, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if err := p.Check(contract.ClusterAuth{PasswordFile: other}); err == nil || !strings.Contains(err.Error(), "not by the worker's account (uid 0) (rule: owned by the worker); chown it") {
			t.Errorf("a file of another account: %v", err)
		}
	}

	// The zero policy trusts no directory.
	if err := (SecretPolicy{}).Check(contract.ClusterAuth{PasswordFile: good}); err == nil || !strings.Contains(err.Error(), "this worker trusts none") {
		t.Errorf("zero policy: %v", err)
	}
	// A local service's own generated password is read; another service's is not.
	own := contract.ClusterRef{Name: "orders", ClusterAuth: contract.ClusterAuth{PasswordFile: generated}}
	if err := p.checkRef(own); err != nil {
		t.Errorf("a local service's own generated password: %v", err)
	}
	own.Name = "billing"
	if err := p.checkRef(own); err == nil || !strings.Contains(err.Error(), "cluster billing: secret reference refused: password_file "+generated) {
		t.Errorf("another service reading orders' generated password: %v", err)
	}
}
