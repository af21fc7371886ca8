package api_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/api"
	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/internal/testcontrol"
)

// aivenClientVersion is the official Aiven client (the aiven-client package, its `avn`
// command) the test drives osccr with: pinned, the newest release when this test was written.
const aivenClientVersion = "4.18.0"

// TestAivenClient drives osccr's API with the official Aiven client, as an operator with
// scripts written for Aiven would: AIVEN_WEB_URL at the API, AIVEN_AUTH_TOKEN its token (sent
// as "aivenv1 <token>"). On a real control plane and two real OpenSearch nodes it creates a
// leader and two more services, waits for them, makes both the leader's followers with
// integrations, lists them, sees a follower RUNNING with the leader's document; deletes one
// integration, which promotes its follower (standalone and writable; a second delete is a 404),
// and terminates the other follower and the leader in one command; and it checks that what osccr
// cannot honour is refused with a message the client shows.
func TestAivenClient(t *testing.T) {
	python := installAivenClient(t)
	testcluster.Distribution(t)
	plane := testcontrol.Start(t, testcluster.Dir(t))
	const token = "avn-s3cret"
	srv := httptest.NewServer(api.Handler(plane.Control, api.Config{Token: token, Project: "default"}))
	defer srv.Close()

	home := t.TempDir() // no real user's Aiven configuration is read or written
	env := []string{"AIVEN_WEB_URL=" + srv.URL, "AIVEN_AUTH_TOKEN=" + token, "HOME=" + home,
		"AIVEN_CONFIG_DIR=" + filepath.Join(home, "aiven"), "NO_PROXY=127.0.0.1", "no_proxy=127.0.0.1"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AIVEN_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(strings.ToUpper(kv), "NO_PROXY=") {
			env = append(env, kv)
		}
	}
	// avn runs the client; it returns stdout, or an error with stderr (where the client
	// writes its log and the API's error messages).
	avn := func(args ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, python, append([]string{"-m", "aiven.client"}, args...)...)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return stdout.String(), errors.New("avn " + strings.Join(args, " ") + ": " + err.Error() + ": " + stderr.String())
		}
		return stdout.String(), nil
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := avn(args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	refused := func(want string, args ...string) {
		t.Helper()
		if _, err := avn(args...); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("avn %s: %v, want it refused saying %q", strings.Join(args, " "), err, want)
		}
	}
	get := func(name string) map[string]any {
		t.Helper()
		var sv map[string]any
		if err := json.Unmarshal([]byte(must("service", "get", name, "--project", "default", "--json")), &sv); err != nil {
			t.Fatalf("avn service get %s --json: %v", name, err)
		}
		return sv
	}
	cleanup := func(name string) {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := plane.Control.DeleteService(ctx, name); err != nil && !errors.Is(err, control.ErrNotFound) {
				t.Errorf("clean up %s: %v", name, err)
			}
			if err := plane.Control.WaitServiceGone(ctx, name); err != nil {
				t.Errorf("clean up %s: %v", name, err)
			}
		})
	}
	const wait = "240" // seconds; a node starts in well under a minute here

	// Refused before anything is created: the client shows the API's message.
	refused("Unknown service type 'kafka'", "service", "create", "avn-x", "--project", "default", "-t", "kafka", "--plan", "business-4")
	refused("unknown plan \"business-5\"", "service", "create", "avn-x", "--project", "default", "-t", "opensearch", "--plan", "business-5", "--cloud", "local")
	plane.NoService(t, "avn-x")

	// Three services at once, as a script would: the leader and the two that become its
	// followers (on the leader's plan).
	began := time.Now()
	step := func(what string) {
		t.Logf("%5.1fs %s", time.Since(began).Seconds(), what)
	}
	for _, name := range []string{"avn-lead", "avn-fol", "avn-dr"} {
		args := []string{"service", "create", name, "--project", "default", "-t", "opensearch", "--plan", "business-4", "--cloud", "local"}
		if name == "avn-fol" { // as Aiven's: a delete is refused while it is on
			args = append(args, "--enable-termination-protection")
		}
		must(args...)
		cleanup(name) // the followers' cleanups run first
	}
	must("service", "wait", "avn-lead", "avn-fol", "avn-dr", "--project", "default", "--timeout", wait)
	step("three services RUNNING")
	lead := get("avn-lead")
	if lead["state"] != "RUNNING" || lead["service_type"] != "opensearch" || lead["cloud_name"] != "local" || lead["role"] != "standalone" || lead["service_uri"] == nil {
		t.Fatalf("avn service get avn-lead: %v", lead)
	}
	ctx := context.Background()
	leader := openSearch(t, lead)
	if err := leader.IndexDocument(ctx, "orders", "1", map[string]any{"item": "book"}, opensearch.WithRefresh()); err != nil {
		t.Fatal(err)
	}

	for _, dest := range []string{"avn-fol", "avn-dr"} {
		must("service", "integration-create", "--project", "default", "-t", "opensearch_cross_cluster_replication", "-s", "avn-lead", "-d", dest)
	}
	step("integrations created")
	var integrations []map[string]any
	if err := json.Unmarshal([]byte(must("service", "integration-list", "avn-fol", "--project", "default", "--json")), &integrations); err != nil {
		t.Fatal(err)
	}
	if len(integrations) != 1 || integrations[0]["service_integration_id"] != "ccr.avn-lead.avn-fol" || integrations[0]["source_service"] != "avn-lead" ||
		integrations[0]["dest_service"] != "avn-fol" || integrations[0]["integration_type"] != "opensearch_cross_cluster_replication" || integrations[0]["enabled"] != true {
		t.Errorf("avn service integration-list avn-fol: %v", integrations)
	}
	must("service", "wait", "avn-fol", "avn-dr", "--project", "default", "--timeout", wait)
	step("followers RUNNING")
	fol := get("avn-fol")
	if fol["state"] != "RUNNING" || fol["role"] != "follower" || fol["leader"] != "avn-lead" {
		t.Fatalf("avn service get avn-fol: %v", fol)
	}
	follower := openSearch(t, fol)
	for deadline := time.Now().Add(time.Minute); ; {
		n, err := follower.Count(ctx, "orders")
		if err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the follower's orders index: %d documents (%v), want the leader's 1", n, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var services []map[string]any
	if err := json.Unmarshal([]byte(must("service", "list", "--project", "default", "--json")), &services); err != nil {
		t.Fatal(err)
	}
	names := map[any]bool{}
	for _, s := range services {
		names[s["service_name"]] = true
		if _, ok := s["service_uri"]; ok {
			t.Errorf("a service listing carries connection details: %v", s)
		}
	}
	if len(services) != 3 || !names["avn-lead"] || !names["avn-fol"] || !names["avn-dr"] {
		t.Errorf("avn service list: %v", services)
	}

	// An update the client sends with the current plan (what `avn service update` sends when no
	// plan is given) changes nothing: the client's whole update path, without restarting nodes.
	must("service", "update", "avn-lead", "--project", "default", "--plan", "business-4")

	// What osccr does otherwise is refused, saying what to do.
	refused("powered false is not supported", "service", "update", "avn-fol", "--project", "default", "--power-off")
	refused("it is the leader of avn-fol (RUNNING), avn-dr (RUNNING): delete or promote its followers first", "service", "terminate", "--project", "default", "--force", "avn-lead")
	if fol["termination_protection"] != true || lead["termination_protection"] != false {
		t.Errorf("termination_protection: avn-fol %v, avn-lead %v; want true, false", fol["termination_protection"], lead["termination_protection"])
	}
	refused("service avn-fol has termination protection: it cannot be deleted while the protection is on", "service", "terminate", "--project", "default", "--force", "avn-fol")
	if st, err := plane.Control.GetService(ctx, "avn-fol"); err != nil || st.State != "RUNNING" {
		t.Errorf("avn-fol after a refused terminate: %s %v, want RUNNING", st.State, err)
	}
	// The protection off, as Aiven's client turns it off: then the follower can go.
	must("service", "update", "avn-fol", "--project", "default", "--disable-termination-protection")
	if fol := get("avn-fol"); fol["termination_protection"] != false {
		t.Errorf("avn-fol after --disable-termination-protection: %v", fol["termination_protection"])
	}

	// Deleting an integration promotes its follower, which stays: standalone, RUNNING, writable.
	must("service", "integration-delete", "--project", "default", "ccr.avn-lead.avn-dr")
	step("integration ccr.avn-lead.avn-dr deleted")
	dr := get("avn-dr")
	promotion, _ := dr["promotion"].(map[string]any)
	if formerLeader, _ := dr["leader"].(string); dr["state"] != "RUNNING" || dr["role"] != "standalone" || formerLeader != "" || promotion["former_leader"] != "avn-lead" {
		t.Errorf("avn service get avn-dr after its integration was deleted: %v, want a RUNNING standalone service promoted from avn-lead", dr)
	}
	if err := openSearch(t, dr).IndexDocument(ctx, "orders", "2", map[string]any{"item": "pen"}, opensearch.WithRefresh()); err != nil {
		t.Errorf("write to avn-dr after its integration was deleted: %v", err)
	}
	refused("status 404", "service", "integration-delete", "--project", "default", "ccr.avn-lead.avn-dr")
	if err := json.Unmarshal([]byte(must("service", "integration-list", "avn-lead", "--project", "default", "--json")), &integrations); err != nil {
		t.Fatal(err)
	}
	if len(integrations) != 1 || integrations[0]["service_integration_id"] != "ccr.avn-lead.avn-fol" {
		t.Errorf("avn service integration-list avn-lead after one was deleted: %v, want ccr.avn-lead.avn-fol alone", integrations)
	}

	// A follower and its leader in one command: the leader's delete waits for the follower's.
	must("service", "terminate", "--project", "default", "--force", "avn-fol", "avn-lead")
	step("avn-fol and avn-lead terminated (accepted)")
	for _, name := range []string{"avn-fol", "avn-lead"} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		err := plane.Control.WaitServiceGone(ctx, name)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := avn("service", "get", name, "--project", "default"); err == nil || !strings.Contains(err.Error(), "status 404") {
			t.Errorf("avn service get %s after terminate: %v, want 404", name, err)
		}
	}
	step("avn-fol and avn-lead gone")
	// The promoted service was never touched by its leader's end.
	if dr := get("avn-dr"); dr["state"] != "RUNNING" || dr["role"] != "standalone" {
		t.Errorf("avn-dr after its former leader was terminated: %v, want RUNNING standalone", dr)
	}
	must("service", "terminate", "--project", "default", "--force", "avn-dr")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := plane.Control.WaitServiceGone(ctx, "avn-dr"); err != nil {
		t.Fatal(err)
	}
}

// openSearch opens a client on a service's service_uri, as `avn service get --json` shows it:
// a secured service (the default) gives its user and password there, as Aiven's API does, and
// the CA that signs its certificate under endpoints.auth.ca_file.
func openSearch(t *testing.T, service map[string]any) *opensearch.Client {
	t.Helper()
	raw, _ := service["service_uri"].(string)
	uri, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("service_uri: %v", err)
	}
	cfg := opensearch.Config{}
	if uri.User != nil {
		cfg.Username = uri.User.Username()
		cfg.Password, _ = uri.User.Password()
		if params, _ := service["service_uri_params"].(map[string]any); params["password"] != cfg.Password || cfg.Password == "" {
			t.Fatalf("service_uri_params of a secured service: %v, want its user and password", params)
		}
		uri.User = nil
	}
	if uri.Scheme == "https" {
		endpoints, _ := service["endpoints"].(map[string]any)
		auth, _ := endpoints["auth"].(map[string]any)
		caFile, _ := auth["ca_file"].(string)
		pem, err := os.ReadFile(caFile)
		if err != nil {
			t.Fatalf("the CA of a secured service (endpoints.auth.ca_file %q): %v", caFile, err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pem)
		cfg.TLS = &tls.Config{RootCAs: roots}
	}
	cfg.URLs = []string{uri.String()}
	c, err := opensearch.New(cfg)
	if err != nil {
		t.Fatalf("service_uri %s: %v", uri.Redacted(), err)
	}
	return c
}

// installAivenClient installs the pinned aiven-client with pip into a virtual environment and
// returns its python. The environment is kept in the user's cache directory, keyed by the
// version, so that later runs on the same machine reuse it; a fresh machine installs it.
func installAivenClient(t *testing.T) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = t.TempDir()
	}
	dir := filepath.Join(cache, "osccr", "aiven-client-"+aivenClientVersion)
	python := filepath.Join(dir, "bin", "python")
	done := filepath.Join(dir, "installed")
	if _, err := os.Stat(done); err == nil {
		return python
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"python3", "-m", "venv", dir},
		{python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "aiven-client==" + aivenClientVersion},
	} {
		if out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("install aiven-client %s: %s: %v\n%s", aivenClientVersion, strings.Join(args, " "), err, out)
		}
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return python
}
