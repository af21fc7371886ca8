package contract

import (
	"strings"
	"testing"
)

func TestClusterAuthCheckReplicationUser(t *testing.T) {
	const url = "https://c.example:9200"
	for _, c := range []struct {
		name string
		auth ClusterAuth
		want string // "" when accepted
	}{
		{"replication user with a file", ClusterAuth{Username: "osccr", PasswordFile: "/p", ReplicationUsername: "osccr-replication", ReplicationPasswordFile: "/r"}, ""},
		{"replication user with a variable", ClusterAuth{Username: "osccr", PasswordEnv: "P", ReplicationUsername: "osccr-replication", ReplicationPasswordEnv: "R"}, ""},
		{"replication password without its user", ClusterAuth{Username: "osccr", PasswordFile: "/p", ReplicationPasswordFile: "/r"}, "a replication user needs its username and its password"},
		{"replication user without a password", ClusterAuth{Username: "osccr", PasswordFile: "/p", ReplicationUsername: "osccr-replication"}, "a replication user needs its username and its password"},
		{"both a variable and a file", ClusterAuth{ReplicationUsername: "r", ReplicationPasswordEnv: "R", ReplicationPasswordFile: "/r"}, "not both"},
		{"relative file", ClusterAuth{ReplicationUsername: "r", ReplicationPasswordFile: "r.password"}, "absolute path"},
	} {
		err := c.auth.Check(url)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want a refusal saying %q", c.name, err, c.want)
		}
	}
	if err := (ClusterAuth{ReplicationUsername: "r", ReplicationPasswordEnv: "R"}).Check("http://c.example:9200"); err == nil || !strings.Contains(err.Error(), "in clear") {
		t.Errorf("replication user over plain HTTP: %v, want a refusal", err)
	}
}
