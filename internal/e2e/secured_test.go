package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/access"
	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/security"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/internal/testcontrol"
	"github.com/osccr/osccr/workflows"
)

// TestSecuredReplication: two clusters running the security plugin (HTTPS, basic auth, TLS on
// transport with certificates from one CA, each allowing the other's node DN) are registered
// with their CA file and password files of two least-privilege users: osccr's own (the osccr
// role of the side) and the replication user (the plugin's role of the side), which signs the
// replication calls (use_roles on every start). The preflight passes and says why; one becomes
// the follower of the other, replicates the leader's documents, and is promoted. Refused with
// nothing created: a wrong password (registration; the replication user's, at the preflight), a
// user without osccr's role (the preflight names the permission and the role), a plain follower
// of a secured leader, and a third cluster whose transport certificates come from another CA
// (the preflight names the CA each side must trust).
func TestSecuredReplication(t *testing.T) {
	d := testcluster.SecureDistribution(t)
	base := testcluster.Dir(t)
	ca := testcluster.NewCA(t, "e2e")
	began := time.Now()
	leader := testcluster.StartSecuredSide(t, d, base, "sleader", ca, "e2e", security.Leader, security.NodeDN("sfollower-0", "e2e"))
	follower := testcluster.StartSecuredSide(t, d, base, "sfollower", ca, "e2e", security.Follower, security.NodeDN("sleader-0", "e2e"))
	t.Logf("two secured nodes healthy after %s", time.Since(began).Round(time.Millisecond))

	ctl, _ := controlPlane(t, base)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// The worker reads secret files only in its trusted directory (<state-dir>/secrets).
	secretsDir := filepath.Join(base, "secrets")
	// osccr calls each cluster as its least-privilege user, and the replication runs as the
	// replication user: neither is an administrator. The test's own writes use the admin.
	auth := func(s *testcluster.Secured) contract.ClusterAuth {
		return contract.ClusterAuth{Username: s.Osccr.Name, PasswordFile: testcluster.PasswordFile(t, secretsDir, s.Osccr), CAFile: s.CAFile,
			ReplicationUsername: s.Replicator.Name, ReplicationPasswordFile: testcluster.PasswordFile(t, secretsDir, s.Replicator)}
	}
	adminAuth := func(s *testcluster.Secured) contract.ClusterAuth {
		return contract.ClusterAuth{Username: s.Admin.Name, PasswordFile: testcluster.PasswordFile(t, secretsDir, s.Admin), CAFile: s.CAFile}
	}
	register := func(name string, s *testcluster.Secured, a contract.ClusterAuth) error {
		return ctl.RegisterService(ctx, control.RegisterServiceRequest{Name: name, URL: s.Node.HTTPURL(), TransportAddress: s.Node.TransportAddress(), Plan: "business-4", Auth: a})
	}
	auths := map[string]contract.ClusterAuth{}
	for name, s := range map[string]*testcluster.Secured{"ssrc": leader, "sdst": follower} {
		auths[name] = auth(s)
		if err := register(name, s, auths[name]); err != nil {
			t.Fatalf("register %s: %v", name, err)
		}
		t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, name) })
		if _, err := ctl.WaitService(ctx, name, nil); err != nil {
			t.Fatalf("secured %s: %v, want RUNNING", name, err)
		}
	}

	// Refused before anything starts: references that cannot work.
	for _, r := range []struct {
		name string
		auth contract.ClusterAuth
		msg  string
	}{
		{"password env and file", contract.ClusterAuth{Username: "admin", PasswordEnv: "X", PasswordFile: "/x"}, "not both"},
		{"certificate without key", contract.ClusterAuth{CertFile: "/c.pem"}, "key file"},
		{"relative CA path", contract.ClusterAuth{CAFile: "ca.pem"}, "absolute path"},
		// The worker's secret policy (activities.SecretPolicy), asked before the service starts.
		{"/etc/shadow", contract.ClusterAuth{Username: "admin", PasswordFile: "/etc/shadow", CAFile: leader.CAFile},
			"password_file /etc/shadow: the worker reads secret files only under " + secretsDir + " (rule: trusted directories)"},
		{"a generated password", contract.ClusterAuth{Username: "admin", PasswordFile: filepath.Join(base, "services", "sgen", "admin.password"), CAFile: leader.CAFile},
			"a file of local service sgen, whose secrets osccr generates and keeps (rule: generated secrets)"},
		{"PATH", contract.ClusterAuth{Username: "admin", PasswordEnv: "PATH", CAFile: leader.CAFile},
			"password_env PATH: the worker reads secrets only from variables named OSCCR_SECRET_* (rule: secret variable prefix)"},
		{"the replication user's password elsewhere", contract.ClusterAuth{Username: "admin", PasswordFile: adminAuth(leader).PasswordFile, ReplicationUsername: "r", ReplicationPasswordFile: filepath.Join(base, "r.password")},
			"replication_password_file " + filepath.Join(base, "r.password") + ": "},
	} {
		if err := register("sbad", leader, r.auth); err == nil || !strings.Contains(err.Error(), r.msg) || !errors.Is(err, control.ErrInvalid) {
			t.Errorf("%s: %v, want a refusal saying %q", r.name, err, r.msg)
		}
	}
	if _, err := ctl.GetService(ctx, "sbad"); !errors.Is(err, control.ErrNotFound) {
		t.Errorf("a refused registration left a service: %v", err)
	}
	// A wrong password: the cluster refuses it, and the service says so.
	wrong := auth(leader)
	wrong.PasswordFile = testcluster.PasswordFile(t, secretsDir, security.User{Name: "wrong", Password: "not-the-password"})
	if err := register("swrong", leader, wrong); err != nil {
		t.Fatalf("register with a wrong password: %v", err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "swrong") })
	if st, err := ctl.WaitService(ctx, "swrong", nil); err == nil || st.State != workflows.StateFailed || !strings.Contains(st.Reason, "refused osccr's credentials") {
		t.Errorf("service with a wrong password: %s %q (%v), want FAILED saying the credentials were refused", st.State, st.Reason, err)
	}

	// A plain local follower of a secured leader is refused, nothing created.
	if err := ctl.CreateFollower(ctx, control.CreateFollowerRequest{Leader: "ssrc", Name: "splain"}); !errors.Is(err, control.ErrConflict) || !strings.Contains(err.Error(), "runs the security plugin") {
		t.Errorf("plain follower of a secured leader: %v, want ErrConflict saying the leader runs the security plugin", err)
	}
	if _, err := ctl.GetService(ctx, "splain"); !errors.Is(err, control.ErrNotFound) {
		t.Errorf("a refused follower exists: %v", err)
	}
	// An existing plain service as the follower of the secured leader: the preflight's security
	// check fails, naming both modes, and the integration is refused.
	if err := ctl.CreateService(ctx, control.CreateServiceRequest{Name: "splainsvc", Plan: "business-4", Security: control.SecurityNone}); err != nil {
		t.Fatalf("create a plain service: %v", err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "splainsvc") })
	if _, err := ctl.WaitService(ctx, "splainsvc", nil); err != nil {
		t.Fatalf("plain service: %v, want RUNNING", err)
	}
	mixed := control.CreateIntegrationRequest{Type: control.IntegrationTypeCCR, Source: "ssrc", Dest: "splainsvc"}
	if mr, err := ctl.PreviewIntegration(ctx, mixed); err != nil || mr.OK || findCheck(mr, contract.CheckSecurity).OK ||
		!strings.Contains(findCheck(mr, contract.CheckSecurity).Detail, "leader ssrc: full, follower splainsvc: none") {
		t.Errorf("preflight of a plain follower of a secured leader (%v): security check %+v, want it failed naming both modes", err, findCheck(mr, contract.CheckSecurity))
	}
	if _, err := ctl.CreateIntegration(ctx, mixed); !errors.Is(err, control.ErrConflict) || !strings.Contains(err.Error(), contract.CheckSecurity) {
		t.Errorf("integration of a plain follower into a secured leader: %v, want ErrConflict naming the security check", err)
	}
	if st, err := ctl.GetService(ctx, "splainsvc"); err != nil || st.Role != workflows.RoleStandalone {
		t.Errorf("the refused follower: %s (%v), want it standalone, unchanged", st.Role, err)
	}

	// The preflight between the two least-privilege pairs passes, and says why: the replication
	// user is mapped on each side, the leader allows the follower's node DN (static entry).
	good := control.CreateIntegrationRequest{Type: control.IntegrationTypeCCR, Source: "ssrc", Dest: "sdst"}
	report, err := ctl.PreviewIntegration(ctx, good)
	if err != nil || !report.OK {
		t.Fatalf("preflight of the secured pair: %v %v", err, report.Failed())
	}
	if c := findCheck(report, contract.CheckNodesDN); !c.OK || !strings.Contains(c.Detail, security.NodeDN("sfollower-0", "e2e")) {
		t.Errorf("nodes_dn check %+v, want it to name the follower's node DN the leader must allow", c)
	}
	if c := findCheck(report, contract.CheckReplicationUser); !c.OK || !strings.Contains(c.Detail, security.ReplicationUserName) {
		t.Errorf("replication user check %+v", c)
	}

	// A wrong password of the replication user: refused by the preflight, nothing created.
	replFile := auths["sdst"].ReplicationPasswordFile
	if err := os.WriteFile(replFile, []byte("not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.CreateIntegration(ctx, good); !errors.Is(err, control.ErrConflict) || !strings.Contains(err.Error(), "refuses the replication user "+security.ReplicationUserName+"'s credentials") {
		t.Errorf("integration with a wrong replication password: %v, want ErrConflict saying sdst refuses the replication user's credentials", err)
	}
	if err := os.WriteFile(replFile, []byte(follower.Replicator.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	nothingCreated(t, ctx, ctl, "sdst", follower, adminAuth(follower))

	// osccr's user without its role: the preflight names the permission and the role to map.
	// (A service over the follower's cluster as its replication user, which has no osccr role.)
	weak := contract.ClusterAuth{Username: follower.Replicator.Name, PasswordFile: replFile, CAFile: follower.CAFile}
	if err := register("sweak", follower, weak); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "sweak") })
	// The registration's own check already calls what that user may not: the service fails,
	// naming the permission.
	if st, err := ctl.WaitService(ctx, "sweak", nil); err == nil || !strings.Contains(st.Reason, "cluster:monitor/main") {
		t.Errorf("service as a user without osccr's role: %s %q (%v), want FAILED naming the permission cluster:monitor/main", st.State, st.Reason, err)
	} else {
		t.Logf("service as a user without osccr's role: %s %q", st.State, st.Reason)
	}

	// Two CAs: a cluster whose transport certificates come from another CA, which the leader's
	// nodes do not trust, nor it theirs. The preflight's transport check names the CA each side
	// must add; nothing is created.
	other := testcluster.StartSecuredSide(t, d, base, "sother", testcluster.NewCA(t, "e2e-b"), "e2e-b", security.Follower, security.NodeDN("sleader-0", "e2e"))
	auths["sother"] = auth(other)
	if err := register("sother", other, auths["sother"]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "sother") })
	if _, err := ctl.WaitService(ctx, "sother", nil); err != nil {
		t.Fatalf("sother: %v, want RUNNING", err)
	}
	twoCAs := control.CreateIntegrationRequest{Type: control.IntegrationTypeCCR, Source: "ssrc", Dest: "sother"}
	report, err = ctl.PreviewIntegration(ctx, twoCAs)
	tr := findCheck(report, contract.CheckTransport)
	caA, caB := "CN=osccr test CA e2e,OU=e2e,O=osccr", "CN=osccr test CA e2e-b,OU=e2e-b,O=osccr"
	if err != nil || report.OK || tr.OK || !strings.Contains(tr.Detail, "two CAs") ||
		!strings.Contains(tr.Fix, fmt.Sprintf("add the CA %q (the CA in sother's CA file %s) to plugins.security.ssl.transport.pemtrustedcas_filepath on every node of ssrc", caB, other.CAFile)) ||
		!strings.Contains(tr.Fix, fmt.Sprintf("the CA %q (the CA in ssrc's CA file %s) on every node of sother", caA, leader.CAFile)) {
		t.Errorf("preflight across two CAs (%v): transport check %+v, want it failed naming the CA each side must trust", err, tr)
	}
	if c := findCheck(report, contract.CheckNodesDN); !strings.Contains(c.Detail, security.NodeDN("sother-0", "e2e-b")) {
		t.Errorf("nodes_dn check across two CAs %+v, want it to name sother's node DN", c)
	}
	if _, err := ctl.CreateIntegration(ctx, twoCAs); !errors.Is(err, control.ErrConflict) || !strings.Contains(err.Error(), "two CAs") {
		t.Errorf("integration across two CAs: %v, want ErrConflict naming the missing trust", err)
	}
	nothingCreated(t, ctx, ctl, "sother", other, adminAuth(other))

	lc, err := activities.NewClient(contract.ClusterRef{Name: "ssrc", URL: leader.Node.HTTPURL(), ClusterAuth: adminAuth(leader)})
	if err != nil {
		t.Fatal(err)
	}
	writeDocs(t, ctx, lc, "orders", 0, 300)
	if _, err := ctl.CreateIntegration(ctx, good); err != nil {
		t.Fatalf("create integration: %v", err)
	}
	began = time.Now()
	wctx, wcancel := context.WithTimeout(ctx, 150*time.Second)
	defer wcancel()
	if st, err := ctl.WaitService(wctx, "sdst", nil); err != nil || st.Role != workflows.RoleFollower {
		t.Fatalf("secured follower: %s %s %q (%v), want a RUNNING follower", st.Role, st.State, st.Reason, err)
	}
	t.Logf("secured follower RUNNING %s after the integration was created", time.Since(began).Round(time.Millisecond))
	fc, err := activities.NewClient(contract.ClusterRef{Name: "sdst", URL: follower.Node.HTTPURL(), ClusterAuth: adminAuth(follower)})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "300 orders on the secured follower", func() (bool, string) {
		_ = fc.Refresh(ctx, "orders")
		n, err := fc.Count(ctx, "orders")
		return err == nil && n == 300, strings.TrimSpace(strings.Join([]string{time.Now().Format(time.TimeOnly), errString(err)}, " "))
	})
	promoted, err := ctl.Promote(ctx, "sdst")
	if err != nil {
		t.Fatalf("promote: %v", err)
	}
	t.Logf("promoted: %+v", promoted)
	writeDocs(t, ctx, fc, "orders", 300, 301)

	// No password or private key anywhere osccr writes or answers: the Temporal database (with
	// its -wal and -shm files), the worker's log, the nodes' logs and data, and what the API
	// and the CLI show of the services. (Where they are meant to be is skipped: the password
	// files and the nodes' config directories.)
	secrets := map[string]string{
		"leader admin password": leader.Admin.Password, "leader replicator password": leader.Replicator.Password,
		"follower admin password": follower.Admin.Password, "follower replicator password": follower.Replicator.Password,
		"leader osccr password": leader.Osccr.Password, "follower osccr password": follower.Osccr.Password,
	}
	secrets["other osccr password"], secrets["other replicator password"] = other.Osccr.Password, other.Replicator.Password
	for _, s := range []*testcluster.Secured{leader, follower, other} {
		secrets[s.Node.Name+" node key"] = keyBody(t, s.Node.ConfigFile(security.NodeKeyFile))
		secrets[s.Node.Name+" admin key"] = keyBody(t, s.Node.ConfigFile(security.AdminKeyFile))
	}
	answers := map[string][]byte{}
	for _, name := range []string{"ssrc", "sdst", "swrong", "sother", "sweak"} {
		st, err := ctl.GetService(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		answers["service show -o json "+name] = mustJSON(t, st)
		answers["service show "+name+" (auth row)"] = []byte(st.ClusterAuth.Username + " " + st.ClusterAuth.PasswordFile + " " + st.ClusterAuth.CAFile)
	}
	list, err := ctl.ListServices(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	answers["service list -o json"] = mustJSON(t, list)
	// The API's answers and its audit log (under the scanned state directory): a GET of each
	// registered service as an admin, a registration refused by the secret policy, one refused
	// for a wrong token, a delete of a service: no password, and no token, in either.
	const apiToken = "e2e-api-token-3b7f0c9a41"
	secrets["API token"] = apiToken
	auditLog := apiThroughAudit(t, ctl, filepath.Join(base, "audit", "audit.jsonl"), apiToken, answers, []string{"ssrc", "sdst", "sother"},
		fmt.Sprintf(`{"service_name":"saudit","plan":"business-4","url":%q,"transport_address":%q,"auth":{"username":"admin","password_file":"/etc/shadow"}}`, leader.Node.HTTPURL(), leader.Node.TransportAddress()))
	skip := func(path string) bool {
		return strings.HasSuffix(path, ".password") || strings.Contains(path, string(filepath.Separator)+"config"+string(filepath.Separator))
	}
	// The scan finds what it looks for: the admin's password is in its own password file.
	if raw, err := os.ReadFile(adminAuth(leader).PasswordFile); err != nil || len(leaks(raw, leader.Admin.Password)) == 0 {
		t.Fatalf("the scan does not find a password where it is (%v)", err)
	}
	files, size := scanForSecrets(t, []string{base}, skip, secrets, answers)
	if _, err := os.Stat(filepath.Join(base, testcontrol.LogFile)); err != nil {
		t.Errorf("no worker log to scan: %v", err)
	}
	if info, err := os.Stat(auditLog); err != nil || info.Size() == 0 {
		t.Errorf("no audit log to scan: %v", err)
	}
	t.Logf("secret scan: %d secrets in 3 forms each, %d files and answers, %d MB: no hit", len(secrets), files, size>>20)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func findCheck(r contract.PreflightReport, name string) contract.PreflightCheck {
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	return contract.PreflightCheck{Name: name, Detail: "no such check in the report"}
}

// nothingCreated checks that a refused integration left the dest as it was: a standalone
// service, no remote cluster connection, no user index.
func nothingCreated(t *testing.T, ctx context.Context, ctl *control.Control, name string, s *testcluster.Secured, admin contract.ClusterAuth) {
	t.Helper()
	if st, err := ctl.GetService(ctx, name); err != nil || st.Role != workflows.RoleStandalone {
		t.Errorf("%s after a refused integration: %s (%v), want standalone", name, st.Role, err)
	}
	c, err := activities.NewClient(contract.ClusterRef{Name: name, URL: s.Node.HTTPURL(), ClusterAuth: admin})
	if err != nil {
		t.Fatal(err)
	}
	settings, err := c.ClusterSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []map[string]any{settings.Persistent, settings.Transient} {
		for k, v := range m {
			if strings.HasPrefix(k, "cluster.remote.") && v != nil {
				t.Errorf("%s after a refused integration has %s = %v", name, k, v)
			}
		}
	}
	indexes, err := c.ListIndices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ix := range indexes {
		if !strings.HasPrefix(ix.Name, ".") {
			t.Errorf("%s after a refused integration holds index %s", name, ix.Name)
		}
	}
}

// TestSecuredLocalServices: local services are secured by default. A leader and its follower,
// both provisioned by osccr with certificates from the installation's CA (the leader's
// nodes_dn, written when it was provisioned, admits every node of the installation), answer
// HTTPS only, with a generated admin password that `service credentials` reveals and nothing
// else shows. The follower reaches RUNNING with the leader's documents (use_roles on every
// start), a recycle of its node pauses and resumes its replication while the leader is written
// to, those documents arrive, and it is promoted. No password or key leaks.
func TestSecuredLocalServices(t *testing.T) {
	testcluster.SecureDistribution(t)
	base := testcluster.Dir(t)
	ctl, tc := controlPlane(t, base)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	const leader, follower = "sec-lead", "sec-fol"
	lc, fc := leaderAndFollowerWith(t, ctx, ctl, "", leader, follower, func(lc *opensearch.Client) {
		writeDocs(t, ctx, lc, "orders", 0, 1000)
	})
	eventually(t, time.Minute, "1000 orders on the follower", func() (bool, string) {
		return sameIDs(ctx, lc, fc, "orders")
	})

	// Secured: HTTPS, the references (paths only) in the service's state, files 0600.
	states := map[string]workflows.ServiceState{}
	for _, name := range []string{leader, follower} {
		st, err := ctl.GetService(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		states[name] = st
		a := st.ClusterRef().ClusterAuth
		if !st.LocalSecured() || !strings.HasPrefix(st.Endpoints.HTTPURL, "https://127.0.0.1:") || a.Username != "admin" || a.PasswordFile == "" || a.CAFile != filepath.Join(base, "pki", "ca.pem") {
			t.Fatalf("service %s: %s, auth %+v; want a secured service at https with the installation's CA", name, st.Endpoints.HTTPURL, a)
		}
		requireMode(t, a.PasswordFile, 0o600)
	}
	requireMode(t, filepath.Join(base, "pki", "ca-key.pem"), 0o600)
	// The leader's generated password cannot be borrowed by a registration: refused by name.
	stolen := states[leader].ClusterRef()
	if err := ctl.RegisterService(ctx, control.RegisterServiceRequest{Name: "sec-thief", URL: stolen.URL, TransportAddress: stolen.TransportAddress, Plan: "business-4",
		Auth: contract.ClusterAuth{Username: "admin", PasswordFile: stolen.PasswordFile, CAFile: stolen.CAFile}}); !errors.Is(err, control.ErrInvalid) ||
		!strings.Contains(err.Error(), "password_file "+stolen.PasswordFile+": a file of local service "+leader+", whose secrets osccr generates and keeps (rule: generated secrets)") {
		t.Errorf("a registration with %s's generated password: %v, want it refused by name", leader, err)
	}
	// Its password is in no API answer but an admin's GET of it.
	for _, role := range []access.Role{access.RoleReadOnly, access.RoleOperator} {
		if raw := apiGet(t, ctl, role, "/v1/project/default/service/"+leader); !strings.Contains(raw, `"service_uri":"https://admin@127.0.0.1:`) {
			t.Errorf("GET %s as %s: %s, want the user without the password", leader, role, raw)
		}
	}
	if raw := apiGet(t, ctl, access.RoleAdmin, "/v1/project/default/service/"+leader); !strings.Contains(raw, `"service_uri":"https://admin:`) {
		t.Errorf("GET %s as admin: %s, want the generated password", leader, raw)
	}
	node, err := localnode.Find(filepath.Join(base, "services", leader, leader+"-0"))
	if err != nil {
		t.Fatal(err)
	}
	nodeKey := node.ConfigFile(security.NodeKeyFile)
	requireMode(t, nodeKey, 0o600)
	if os.Geteuid() == 0 { // the nodes run as the unprivileged account, which alone reads the key
		if owner := fileOwner(t, nodeKey); owner == 0 {
			t.Errorf("node key %s belongs to root, want the account the node runs as", nodeKey)
		}
	}
	plainHTTP, err := opensearch.New(opensearch.Config{URLs: []string{strings.Replace(states[leader].Endpoints.HTTPURL, "https", "http", 1)}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plainHTTP.Count(ctx, "orders"); err == nil {
		t.Error("the secured leader answered plain HTTP")
	}
	anon, err := activities.NewClient(contract.ClusterRef{Name: leader, URL: states[leader].Endpoints.HTTPURL, ClusterAuth: contract.ClusterAuth{CAFile: states[leader].ClusterRef().CAFile}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Count(ctx, "orders"); err == nil {
		t.Error("the secured leader answered a request without credentials")
	}
	creds, err := ctl.ServiceCredentials(ctx, leader)
	if err != nil || creds.Username != "admin" || len(creds.Password) < 20 {
		t.Fatalf("service credentials %s: user %q, %d-character password (%v)", leader, creds.Username, len(creds.Password), err)
	}
	if _, err := ctl.ServiceCredentials(ctx, "nobody"); !errors.Is(err, control.ErrNotFound) {
		t.Errorf("credentials of an unknown service: %v, want ErrNotFound", err)
	}

	// A recycle of the follower's node: replication paused, then resumed; the leader is written
	// to all along, and every document arrives.
	stopWriting := writeAlong(ctx, lc, "orders", 1000)
	began := time.Now()
	if err := ctl.RecycleNode(ctx, follower, "", true); err != nil {
		t.Fatalf("recycle %s: %v", follower, err)
	}
	t.Logf("secured follower's node recycled in %s", time.Since(began).Round(time.Millisecond))
	total := stopWriting()
	t.Logf("%d documents written on the leader during the recycle", total-1000)
	if total-1000 < 10 {
		t.Fatalf("only %d documents written during the recycle", total-1000)
	}
	signals := signalsOf(t, tc, workflows.IntegrationWorkflowID(leader, follower))
	if signals[workflows.SignalPauseIntegration] == 0 || signals[workflows.SignalResumeIntegration] == 0 {
		t.Errorf("integration signals during the recycle: %v, want a pause and a resume", signals)
	}
	eventually(t, 2*time.Minute, "every document written during the recycle on the follower", func() (bool, string) {
		_ = fc.Refresh(ctx, "orders")
		return sameIDs(ctx, lc, fc, "orders")
	})

	report, err := ctl.Promote(ctx, follower)
	if err != nil {
		t.Fatalf("promote: %v", err)
	}
	t.Logf("promoted: %d indexes stopped", report.IndexesStopped)
	writeDocs(t, ctx, fc, "orders", total, total+1)

	// No password or private key anywhere osccr writes or answers (where they are meant to be
	// is skipped: the password files, the nodes' config directories, the CA's key).
	secrets := map[string]string{}
	answers := map[string][]byte{}
	for _, name := range []string{leader, follower} {
		a := states[name].ClusterRef().ClusterAuth
		raw, err := os.ReadFile(a.PasswordFile)
		if err != nil {
			t.Fatal(err)
		}
		secrets[name+" admin password"] = strings.TrimSpace(string(raw))
		dir := filepath.Join(base, "services", name, name+"-0", "config")
		secrets[name+" node key"] = keyBody(t, filepath.Join(dir, security.NodeKeyFile))
		secrets[name+" admin key"] = keyBody(t, filepath.Join(dir, security.AdminKeyFile))
		st, err := ctl.GetService(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		answers["service show -o json "+name] = mustJSON(t, st)
	}
	secrets["CA key"] = keyBody(t, filepath.Join(base, "pki", "ca-key.pem"))
	list, err := ctl.ListServices(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	answers["service list -o json"] = mustJSON(t, list)
	skip := func(path string) bool {
		return strings.HasSuffix(path, ".password") || strings.HasSuffix(path, "ca-key.pem") ||
			strings.Contains(path, string(filepath.Separator)+"config"+string(filepath.Separator))
	}
	files, size := scanForSecrets(t, []string{base}, skip, secrets, answers)
	t.Logf("secret scan: %d secrets in 3 forms each, %d files and answers, %d MB: no hit", len(secrets), files, size>>20)
}

// writeAlong writes documents with ids from `from` on, one at a time, each retried until
// acknowledged, until the returned stop is called; stop returns the next id.
func writeAlong(ctx context.Context, c *opensearch.Client, index string, from int) (stop func() int) {
	next := from
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			default:
			}
			if err := c.IndexDocument(ctx, index, fmt.Sprintf("%d", next), map[string]any{"n": next}); err != nil {
				time.Sleep(50 * time.Millisecond) // back off; the leader never restarts here
				continue
			}
			next++
		}
	}()
	return func() int { close(quit); <-done; return next }
}

// signalsOf counts the signals a workflow's current run received, by name.
func signalsOf(t *testing.T, c client.Client, workflowID string) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string]int{}
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		if a := e.GetWorkflowExecutionSignaledEventAttributes(); a != nil {
			out[a.GetSignalName()]++
		}
	}
	return out
}

func requireMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != want {
		t.Errorf("%s has mode %v, want %v", path, info.Mode().Perm(), want)
	}
}

func fileOwner(t *testing.T, path string) uint32 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Sys().(*syscall.Stat_t).Uid
}
