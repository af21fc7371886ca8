package activities

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osccr/osccr/internal/contract"
)

func TestClientConfigReadsTheReplicationPassword(t *testing.T) {
	file := filepath.Join(t.TempDir(), "r.password")
	if err := os.WriteFile(file, []byte("repl-secret\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OSCCR_TEST_REPL_PW", "from-env")
	for _, c := range []struct {
		name string
		auth contract.ClusterAuth
		want string
		err  string
	}{
		{"file", contract.ClusterAuth{ReplicationUsername: "r", ReplicationPasswordFile: file}, "repl-secret", ""},
		{"variable", contract.ClusterAuth{ReplicationUsername: "r", ReplicationPasswordEnv: "OSCCR_TEST_REPL_PW"}, "from-env", ""},
		{"unset variable", contract.ClusterAuth{ReplicationUsername: "r", ReplicationPasswordEnv: "OSCCR_TEST_NOT_SET"}, "", "not set"},
		{"missing file", contract.ClusterAuth{ReplicationUsername: "r", ReplicationPasswordFile: file + ".gone"}, "", "replication user's password"},
	} {
		cfg, err := ClientConfig(contract.ClusterRef{Name: "c", URL: "https://c.example:9200", ClusterAuth: c.auth})
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.err)
		case c.err == "" && (err != nil || cfg.ReplicationUsername != "r" || cfg.ReplicationPassword != c.want):
			t.Errorf("%s: %q %v, want the password %q", c.name, cfg.ReplicationUsername, err, c.want)
		}
	}
}

func TestTransportTrustFix(t *testing.T) {
	in := contract.PreflightInput{Leader: contract.ClusterRef{Name: "orders"}, Follower: contract.ClusterRef{Name: "replica"}}
	a, b := transportCerts{Subject: "CN=l", Issuer: "CN=CA A"}, transportCerts{Subject: "CN=f", Issuer: "CN=CA B"}
	detail, fix, ok := transportTrustFix(in, a, b)
	if !ok || !strings.Contains(detail, "two CAs") ||
		!strings.Contains(fix, `add the CA "CN=CA B" to plugins.security.ssl.transport.pemtrustedcas_filepath on every node of orders`) ||
		!strings.Contains(fix, `the CA "CN=CA A" on every node of replica`) {
		t.Errorf("two CAs: %q %q %v", detail, fix, ok)
	}
	if _, _, ok := transportTrustFix(in, a, transportCerts{Subject: "CN=f", Issuer: "CN=CA A"}); ok {
		t.Error("one CA: a trust fix, want none")
	}
	if _, _, ok := transportTrustFix(in, a, transportCerts{err: os.ErrDeadlineExceeded}); ok {
		t.Error("unreadable follower certificate: a trust fix, want none (cannot tell)")
	}
}
