package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/osccr/osccr/internal/api"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/internal/testcontrol"
)

// TestBadInputAPI sends bad requests through the real handler, in-process, against a real
// control plane (embedded Temporal and the worker), and checks that each is refused with the
// exact status, error code and a message naming the problem, and that nothing changed: no
// workflow started, signalled into a new state or ended, and no service's state different.
//
// The existing services are registered over one real OpenSearch node; every request below is
// refused before anything would reach it.
func TestBadInputAPI(t *testing.T) {
	plane := testcontrol.Start(t, t.TempDir())
	node := testcluster.Start(t, testcluster.Distribution(t), testcluster.Dir(t), "bi")
	plane.RegisterRunning(t, "bi-lead", "business-4", node.HTTPURL(), node.TransportAddress())
	plane.RegisterRunning(t, "bi-hobby", "hobbyist", node.HTTPURL(), node.TransportAddress())

	srv := httptest.NewServer(api.Handler(plane.Control, api.Config{Token: "s3cret", Project: "acme"}))
	defer srv.Close()

	const (
		svc   = "/v1/project/acme/service"
		integ = "/v1/project/acme/integration"
		ccr   = "opensearch_cross_cluster_replication"
	)
	create := func(name, rest string) string {
		return fmt.Sprintf(`{"service_name":%q%s}`, name, rest)
	}
	integration := func(typ, source, dest string) string {
		return fmt.Sprintf(`{"integration_type":%q,"source_service":%q,"dest_service":%q}`, typ, source, dest)
	}
	long := "a" + strings.Repeat("b", 63)
	tests := []struct {
		name, method, path, body string
		// auth is the Authorization header; "" means the right bearer token, "-" none.
		auth      string
		status    int
		code, msg string
		// noService: a service of this name must not exist afterwards.
		noService string
	}{
		// Authentication and routing.
		{name: "no token", method: "GET", path: svc, auth: "-", status: 401, code: "unauthorized", msg: "missing or wrong bearer token"},
		{name: "wrong token", method: "POST", path: svc, auth: "Bearer nope", body: create("bi-new", `,"plan":"business-4"`), status: 401, code: "unauthorized", msg: "missing or wrong bearer token", noService: "bi-new"},
		{name: "basic auth instead of bearer", method: "DELETE", path: svc + "/bi-lead", auth: "Basic czNjcmV0", status: 401, code: "unauthorized", msg: "Authorization: Bearer"},
		{name: "unknown route", method: "GET", path: "/v1/project/acme/clusters", status: 404, code: "not_found", msg: "no such endpoint; GET /openapi.json"},
		{name: "unknown project", method: "DELETE", path: "/v1/project/other/service/bi-lead", status: 404, code: "not_found", msg: `no project "other" (this control plane serves "acme")`},
		{name: "wrong method on the services", method: "PUT", path: svc, body: create("bi-new", `,"plan":"business-4"`), status: 405, code: "method_not_allowed", msg: "PUT is not allowed", noService: "bi-new"},
		{name: "wrong method on a service", method: "POST", path: svc + "/bi-lead", status: 405, code: "method_not_allowed", msg: "allowed: DELETE, GET, PATCH, PUT"},
		{name: "wrong method on an integration", method: "PATCH", path: integ + "/ccr.bi-lead.bi-hobby", status: 405, code: "method_not_allowed", msg: "allowed: DELETE, GET"},

		// Bodies the API cannot read.
		{name: "malformed JSON", method: "POST", path: svc, body: `{"service_name":"bi-new",`, status: 400, code: "invalid", msg: "request body", noService: "bi-new"},
		{name: "empty body", method: "POST", path: svc, status: 400, code: "invalid", msg: "request body is empty", noService: "bi-new"},
		{name: "not an object", method: "POST", path: svc, body: `["bi-new","business-4"]`, status: 400, code: "invalid", msg: "cannot unmarshal array", noService: "bi-new"},
		{name: "unknown field", method: "POST", path: svc, body: create("bi-new", `,"plan":"business-4","plna":"business-8"`), status: 400, code: "invalid", msg: `unknown field "plna"`, noService: "bi-new"},
		{name: "name of the wrong type", method: "POST", path: svc, body: `{"service_name":42,"plan":"business-4"}`, status: 400, code: "invalid", msg: "service_name", noService: "bi-new"},
		{name: "disk of the wrong type", method: "POST", path: svc, body: create("bi-new", `,"plan":"business-4","extra_disk_gb":"ten"`), status: 400, code: "invalid", msg: "extra_disk_gb", noService: "bi-new"},
		{name: "disk beyond an integer", method: "POST", path: svc, body: create("bi-new", `,"plan":"business-4","extra_disk_gb":1e30`), status: 400, code: "invalid", msg: "extra_disk_gb", noService: "bi-new"},
		{name: "a second JSON value after the request", method: "PATCH", path: svc + "/bi-lead", body: `{"plan":"business-8"} {"plan":"premium-6x-8"}`, status: 400, code: "invalid", msg: "one JSON object"},
		{name: "body too large", method: "POST", path: svc, body: create("bi-new", `,"plan":"business-4","region":"`+strings.Repeat("x", api.MaxBodyBytes)+`"`), status: 413, code: "too_large", msg: "too large", noService: "bi-new"},
		{name: "integration body too large", method: "POST", path: integ, body: integration(ccr, "bi-lead", strings.Repeat("x", api.MaxBodyBytes)), status: 413, code: "too_large", msg: "too large"},

		// Service names.
		{name: "empty name", method: "POST", path: svc, body: create("", `,"plan":"business-4"`), status: 400, code: "invalid", msg: "service name is empty"},
		{name: "uppercase name", method: "POST", path: svc, body: create("Bi-New", `,"plan":"business-4"`), status: 400, code: "invalid", msg: `"Bi-New" does not start with a lowercase letter`, noService: "Bi-New"},
		{name: "uppercase inside a name", method: "POST", path: svc, body: create("bi-New", `,"plan":"business-4"`), status: 400, code: "invalid", msg: "has an uppercase letter", noService: "bi-New"},
		{name: "name too long", method: "POST", path: svc, body: create(long, `,"plan":"business-4"`), status: 400, code: "invalid", msg: "is 64 characters long, more than 63", noService: long},
		{name: "name too short", method: "POST", path: svc, body: create("bi", `,"plan":"business-4"`), status: 400, code: "invalid", msg: "shorter than 3 characters", noService: "bi"},
		{name: "name with a dot", method: "POST", path: svc, body: create("bi.new", `,"plan":"business-4"`), status: 400, code: "invalid", msg: `has the character '.' at position 3`, noService: "bi.new"},
		{name: "name with a slash", method: "POST", path: svc, body: create("bi/new", `,"plan":"business-4"`), status: 400, code: "invalid", msg: `has the character '/' at position 3`, noService: "bi/new"},
		{name: "name with a leading dash", method: "POST", path: svc, body: create("-bi-new", `,"plan":"business-4"`), status: 400, code: "invalid", msg: "does not start with a lowercase letter", noService: "-bi-new"},
		{name: "name with a trailing dash", method: "POST", path: svc, body: create("bi-new-", `,"plan":"business-4"`), status: 400, code: "invalid", msg: "ends with a hyphen", noService: "bi-new-"},

		// Plans and sizes.
		{name: "unknown plan", method: "POST", path: svc, body: create("bi-new", `,"plan":"gold"`), status: 400, code: "invalid", msg: `unknown plan "gold"; valid plans: hobbyist,`, noService: "bi-new"},
		{name: "no plan", method: "POST", path: svc, body: create("bi-new", ``), status: 400, code: "invalid", msg: "no plan name given", noService: "bi-new"},
		{name: "negative disk", method: "POST", path: svc, body: create("bi-new", `,"plan":"business-4","extra_disk_gb":-5`), status: 400, code: "invalid", msg: "extra disk -5 GB is negative", noService: "bi-new"},
		{name: "huge disk", method: "POST", path: svc, body: create("bi-new", `,"plan":"business-4","extra_disk_gb":1000000000`), status: 400, code: "invalid", msg: "extra disk 1000000000 GB is more than", noService: "bi-new"},
		{name: "every problem at once", method: "POST", path: svc, body: create("Bad", `,"plan":"gold","extra_disk_gb":-1`), status: 400, code: "invalid", msg: "extra disk -1 GB is negative [rule extra-disk-bounds]\ninvalid service spec: service name \"Bad\" does not start with a lowercase letter", noService: "Bad"},
		{name: "taken name", method: "POST", path: svc, body: create("bi-lead", `,"plan":"business-4"`), status: 409, code: "conflict", msg: `service name "bi-lead" is taken`},

		// Registering an existing cluster.
		{name: "register without a transport address", method: "POST", path: svc, body: create("bi-new", `,"plan":"business-4","url":"http://127.0.0.1:1"`), status: 400, code: "invalid", msg: `transport address "" must be host:port`, noService: "bi-new"},
		{name: "register with a port-less transport address", method: "POST", path: svc, body: create("bi-new", `,"plan":"business-4","url":"http://127.0.0.1:1","transport_address":"127.0.0.1"`), status: 400, code: "invalid", msg: `transport address "127.0.0.1" must be host:port`, noService: "bi-new"},
		{name: "register with a malformed URL", method: "POST", path: svc, body: create("bi-new", `,"plan":"business-4","url":"127.0.0.1 9200","transport_address":"127.0.0.1:9300"`), status: 400, code: "invalid", msg: "must start with http:// or https://", noService: "bi-new"},

		// Followers.
		{name: "follower of an unknown leader", method: "POST", path: svc + "/nobody/follower", body: create("bi-new", ``), status: 404, code: "not_found", msg: "leader nobody is unknown", noService: "bi-new"},
		{name: "follower with an invalid name", method: "POST", path: svc + "/bi-lead/follower", body: create("Bi_New", ``), status: 400, code: "invalid", msg: `service name "Bi_New"`, noService: "Bi_New"},
		{name: "follower named as its leader", method: "POST", path: svc + "/bi-lead/follower", body: create("bi-lead", ``), status: 400, code: "invalid", msg: "the follower would be the leader itself"},
		{name: "follower of a hobbyist leader", method: "POST", path: svc + "/bi-hobby/follower", body: create("bi-new", ``), status: 400, code: "invalid", msg: "hobbyist", noService: "bi-new"},
		{name: "follower on the hobbyist plan", method: "POST", path: svc + "/bi-lead/follower", body: create("bi-new", `,"plan":"hobbyist"`), status: 400, code: "invalid", msg: "hobbyist", noService: "bi-new"},
		{name: "follower on a startup plan", method: "POST", path: svc + "/bi-lead/follower", body: create("bi-new", `,"plan":"startup-4"`), status: 400, code: "invalid", msg: "startup", noService: "bi-new"},
		{name: "follower on another plan than its leader", method: "POST", path: svc + "/bi-lead/follower", body: create("bi-new", `,"plan":"business-8"`), status: 400, code: "invalid", msg: "business-8", noService: "bi-new"},
		{name: "follower on an unknown plan", method: "POST", path: svc + "/bi-lead/follower", body: create("bi-new", `,"plan":"gold"`), status: 400, code: "invalid", msg: `unknown plan "gold"`, noService: "bi-new"},
		{name: "follower with negative disk", method: "POST", path: svc + "/bi-lead/follower", body: create("bi-new", `,"extra_disk_gb":-1`), status: 400, code: "invalid", msg: "extra disk -1 GB is negative", noService: "bi-new"},
		{name: "follower with a taken name", method: "POST", path: svc + "/bi-lead/follower", body: create("bi-hobby", ``), status: 409, code: "conflict", msg: `service name "bi-hobby" is taken`},
		{name: "follower in one call of an unknown leader", method: "POST", path: svc, body: create("bi-new", `,"plan":"business-4","service_integrations":[{"integration_type":"`+ccr+`","source_service":"nobody"}]`), status: 404, code: "not_found", msg: "leader nobody is unknown", noService: "bi-new"},
		{name: "follower in one call of a hobbyist leader", method: "POST", path: svc, body: create("bi-new", `,"plan":"hobbyist","service_integrations":[{"integration_type":"`+ccr+`","source_service":"bi-hobby"}]`), status: 400, code: "invalid", msg: "hobbyist", noService: "bi-new"},
		{name: "follower in one call on another plan than its leader", method: "POST", path: svc, body: create("bi-new", `,"plan":"business-8","service_integrations":[{"integration_type":"`+ccr+`","source_service":"bi-lead"}]`), status: 400, code: "invalid", msg: "business-8", noService: "bi-new"},
		{name: "service with a VPC", method: "POST", path: svc, body: create("bi-new", `,"plan":"business-4","project_vpc_id":"vpc-1"`), status: 400, code: "invalid", msg: `project_vpc_id "vpc-1" is not supported`, noService: "bi-new"},
		{name: "update powering a service off", method: "PUT", path: svc + "/bi-lead", body: `{"plan":"business-4","powered":false}`, status: 400, code: "invalid", msg: "powered false is not supported"},
		{name: "update moving a service", method: "PUT", path: svc + "/bi-lead", body: `{"plan":"business-8","cloud":"aws-eu-west-1"}`, status: 400, code: "invalid", msg: "a service cannot move; bi-lead stays in self-hosted"},
		{name: "update of an unknown service", method: "PUT", path: svc + "/nobody", body: `{"plan":"business-8"}`, status: 404, code: "not_found", msg: "no service nobody"},
		{name: "update a follower-less service to an unknown plan", method: "PUT", path: svc + "/bi-lead", body: `{"plan":"gold","user_config":{}}`, status: 400, code: "invalid", msg: `unknown plan "gold"`},
		{name: "followers of an invalid name", method: "GET", path: svc + "/Bi-Lead/follower", status: 400, code: "invalid", msg: `service name "Bi-Lead"`},

		// Integrations.
		{name: "integration of another type", method: "POST", path: integ, body: integration("kafka_logs", "bi-lead", "bi-new"), status: 400, code: "invalid", msg: `integration type "kafka_logs" is not supported`, noService: "bi-new"},
		{name: "integration without a type", method: "POST", path: integ, body: `{"source_service":"bi-lead","dest_service":"bi-hobby"}`, status: 400, code: "invalid", msg: "no integration type given"},
		{name: "integration without a source", method: "POST", path: integ, body: `{"integration_type":"` + ccr + `","dest_service":"bi-hobby"}`, status: 400, code: "invalid", msg: "service name is empty"},
		{name: "integration into its own source", method: "POST", path: integ, body: integration(ccr, "bi-lead", "bi-lead"), status: 400, code: "invalid", msg: "a service cannot follow itself"},
		{name: "integration into an unknown dest", method: "POST", path: integ, body: integration(ccr, "bi-lead", "bi-new"), status: 404, code: "not_found", msg: "dest service bi-new is unknown", noService: "bi-new"},
		{name: "integration from an unknown source", method: "POST", path: integ, body: integration(ccr, "nobody", "bi-lead"), status: 404, code: "not_found", msg: "source service nobody is unknown"},
		{name: "integration from a hobbyist source", method: "POST", path: integ, body: integration(ccr, "bi-hobby", "bi-lead"), status: 400, code: "invalid", msg: "hobbyist"},
		{name: "integration into a hobbyist dest", method: "POST", path: integ, body: integration(ccr, "bi-lead", "bi-hobby"), status: 400, code: "invalid", msg: "change the plan of bi-hobby first"},
		{name: "delete an integration by a malformed ID", method: "DELETE", path: integ + "/bi-lead-to-bi-hobby", status: 400, code: "invalid", msg: "is not of the form ccr.<source>.<dest>"},
		{name: "delete an integration by an ID with an invalid name", method: "DELETE", path: integ + "/ccr.Bi-Lead.bi-hobby", status: 400, code: "invalid", msg: "is not of the form ccr.<source>.<dest>"},
		{name: "delete an integration that does not exist", method: "DELETE", path: integ + "/ccr.bi-lead.bi-hobby", status: 404, code: "not_found", msg: "service bi-hobby does not follow bi-lead"},

		// What only a follower can do.
		{name: "promote a standalone service", method: "POST", path: svc + "/bi-lead/promote", status: 409, code: "conflict", msg: "only a follower can be promoted"},
		{name: "promotion dry run of a standalone service", method: "POST", path: svc + "/bi-lead/promote?dry_run=true", status: 409, code: "conflict", msg: "only a follower can be promoted"},
		{name: "promote with dry_run not a boolean", method: "POST", path: svc + "/bi-lead/promote?dry_run=perhaps", status: 400, code: "invalid", msg: `dry_run="perhaps": use true or false`},
		{name: "pause a standalone service", method: "POST", path: svc + "/bi-lead/pause", body: `{"reason":"test"}`, status: 409, code: "conflict", msg: "cannot pause bi-lead: it is not a follower"},
		{name: "resume a standalone service", method: "POST", path: svc + "/bi-lead/resume", status: 409, code: "conflict", msg: "cannot resume bi-lead: it is not a follower"},
		{name: "pause with an unknown field", method: "POST", path: svc + "/bi-lead/pause", body: `{"why":"test"}`, status: 400, code: "invalid", msg: `unknown field "why"`},
		{name: "pause an unknown service", method: "POST", path: svc + "/nobody/pause", status: 404, code: "not_found", msg: "no service nobody"},
		{name: "verify a standalone service", method: "GET", path: svc + "/bi-lead/replication/verify", status: 409, code: "conflict", msg: "cannot verify bi-lead: it is not a follower"},

		// Node recycles, plan changes, deletes.
		{name: "recycle an unknown node", method: "POST", path: svc + "/bi-lead/recycle-node", body: `{"node":"nope"}`, status: 400, code: "invalid", msg: `service bi-lead has no node "nope" (its nodes: ` + node.Name + ")"},
		{name: "recycle a node of a registered cluster", method: "POST", path: svc + "/bi-lead/recycle-node", status: 409, code: "conflict", msg: "cannot restart nodes it does not run"},
		{name: "recycle a node of an unknown service", method: "POST", path: svc + "/nobody/recycle-node", status: 404, code: "not_found", msg: "no service nobody"},
		{name: "update to an unknown plan", method: "PATCH", path: svc + "/bi-lead", body: `{"plan":"gold"}`, status: 400, code: "invalid", msg: `unknown plan "gold"`},
		{name: "update without a plan", method: "PATCH", path: svc + "/bi-lead", body: `{}`, status: 400, code: "invalid", msg: "no plan name given"},
		{name: "update an unknown service", method: "PATCH", path: svc + "/nobody", body: `{"plan":"business-8"}`, status: 404, code: "not_found", msg: "no service nobody"},
		{name: "list services of an unknown role", method: "GET", path: svc + "?role=boss", status: 400, code: "invalid", msg: `role "boss": use leader, follower or standalone`},
		{name: "delete an unknown service", method: "DELETE", path: svc + "/nobody", status: 404, code: "not_found", msg: "no service nobody"},
	}

	before := plane.Snapshot(t)
	seen := map[string]bool{}
	for _, tt := range tests {
		if seen[tt.name] {
			t.Fatalf("two cases named %q", tt.name)
		}
		seen[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			switch tt.auth {
			case "":
				req.Header.Set("Authorization", "Bearer s3cret")
			case "-":
			default:
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var body api.Error
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("%s %s = %d, not a JSON error: %q", tt.method, tt.path, resp.StatusCode, raw)
			}
			if resp.StatusCode != tt.status || body.Code != tt.code || !strings.Contains(body.Message, tt.msg) {
				t.Errorf("%s %s = %d %s %q\nwant %d %s mentioning %q", tt.method, tt.path, resp.StatusCode, body.Code, body.Message, tt.status, tt.code, tt.msg)
			}
			plane.NoService(t, tt.noService)
			if after := plane.Snapshot(t); after != before {
				t.Errorf("state changed:\nbefore\n%s\nafter\n%s", before, after)
				before = after
			}
		})
	}
	t.Logf("%d bad inputs refused through the API", len(tests))
}
