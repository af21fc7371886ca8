package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/workflows"
)

// avnCreate is the body `avn service create NAME -t opensearch --plan business-4` sends
// (aiven-client 4.18.0): every field it has, empty unless given.
const avnCreate = `{"cloud":null,"plan":"business-4","service_integrations":[],"service_name":"s1","service_type":"opensearch","user_config":{},"termination_protection":false,"static_ips":[]}`

// with returns avnCreate with fields replaced or added.
func with(t *testing.T, fields map[string]any) string {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal([]byte(avnCreate), &body); err != nil {
		t.Fatal(err)
	}
	for k, v := range fields {
		body[k] = v
	}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func decodeBody(t *testing.T, body string, v any) error {
	t.Helper()
	return decode(httptest.NewRequest("POST", "/", strings.NewReader(body)), v)
}

// TestCreateServiceMapping: Aiven's create request maps onto the application layer's create,
// register or follower request; what osccr cannot honour is refused, saying which field and why,
// and the client's empty defaults are accepted.
func TestCreateServiceMapping(t *testing.T) {
	ccr := func(source string, extra map[string]any) []any {
		in := map[string]any{"integration_type": control.IntegrationTypeCCR, "source_service": source}
		for k, v := range extra {
			in[k] = v
		}
		return []any{in}
	}
	tests := []struct {
		name string
		body string
		want serviceCreation
		err  string
	}{
		{name: "the client's defaults", body: avnCreate, want: serviceCreation{create: &control.CreateServiceRequest{Name: "s1", Plan: "business-4"}}},
		{name: "osccr's own request", body: `{"service_name":"s1","plan":"business-4","region":"eu","extra_disk_gb":5}`,
			want: serviceCreation{create: &control.CreateServiceRequest{Name: "s1", Plan: "business-4", Region: "eu", ExtraDiskGB: 5}}},
		{name: "a plain service", body: with(t, map[string]any{"security": "none"}), want: serviceCreation{create: &control.CreateServiceRequest{Name: "s1", Plan: "business-4", Security: "none"}}},
		{name: "a cloud", body: with(t, map[string]any{"cloud": "local"}), want: serviceCreation{create: &control.CreateServiceRequest{Name: "s1", Plan: "business-4", Cloud: "local"}}},
		{name: "the plan's disk", body: with(t, map[string]any{"disk_space_mb": 80 * 1024}), want: serviceCreation{create: &control.CreateServiceRequest{Name: "s1", Plan: "business-4"}}},
		{name: "10 GB more disk", body: with(t, map[string]any{"disk_space_mb": 90 * 1024}), want: serviceCreation{create: &control.CreateServiceRequest{Name: "s1", Plan: "business-4", ExtraDiskGB: 10}}},
		{name: "null fields", body: with(t, map[string]any{"user_config": nil, "static_ips": nil, "project_vpc_id": nil, "cmk_id": nil, "service_integrations": nil, "disk_space_mb": nil, "tags": map[string]any{}, "tech_emails": []any{}, "maintenance": nil}),
			want: serviceCreation{create: &control.CreateServiceRequest{Name: "s1", Plan: "business-4"}}},
		{name: "a follower in one call", body: with(t, map[string]any{"service_integrations": ccr("lead", nil)}),
			want: serviceCreation{follower: &control.CreateFollowerRequest{Leader: "lead", Name: "s1", Plan: "business-4"}}},
		{name: "a follower naming itself the dest", body: with(t, map[string]any{"service_integrations": ccr("lead", map[string]any{"dest_service": "s1", "source_project": "default", "user_config": map[string]any{}, "source_endpoint_id": nil})}),
			want: serviceCreation{follower: &control.CreateFollowerRequest{Leader: "lead", Name: "s1", Plan: "business-4"}}},
		{name: "a registered cluster", body: `{"service_name":"s1","plan":"business-4","url":"http://h:9200","transport_address":"h:9300"}`,
			want: serviceCreation{register: &control.RegisterServiceRequest{Name: "s1", Plan: "business-4", URL: "http://h:9200", TransportAddress: "h:9300"}}},

		{name: "user config", body: with(t, map[string]any{"user_config": map[string]any{"opensearch_version": "2"}}), err: `user_config {"opensearch_version":"2"} is not supported: osccr takes no user configuration`},
		{name: "termination protection", body: with(t, map[string]any{"termination_protection": true}),
			want: serviceCreation{create: &control.CreateServiceRequest{Name: "s1", Plan: "business-4", TerminationProtection: true}}},
		{name: "a protected follower", body: with(t, map[string]any{"termination_protection": true, "service_integrations": ccr("lead", nil)}),
			want: serviceCreation{follower: &control.CreateFollowerRequest{Leader: "lead", Name: "s1", Plan: "business-4", TerminationProtection: true}}},
		{name: "a protected registered cluster", body: `{"service_name":"s1","plan":"business-4","url":"http://h:9200","transport_address":"h:9300","termination_protection":true}`,
			want: serviceCreation{register: &control.RegisterServiceRequest{Name: "s1", Plan: "business-4", URL: "http://h:9200", TransportAddress: "h:9300", TerminationProtection: true}}},
		{name: "static IPs", body: with(t, map[string]any{"static_ips": []any{"ip-1"}}), err: `static_ips ["ip-1"] is not supported: osccr assigns no static IP addresses`},
		{name: "a VPC", body: with(t, map[string]any{"project_vpc_id": "vpc-1"}), err: `project_vpc_id "vpc-1" is not supported: osccr runs no VPCs`},
		{name: "a customer managed key", body: with(t, map[string]any{"cmk_id": "key-1"}), err: "cmk_id \"key-1\" is not supported"},
		{name: "tags", body: with(t, map[string]any{"tags": map[string]any{"team": "search"}}), err: "osccr keeps no tags"},
		{name: "another service type", body: with(t, map[string]any{"service_type": "kafka"}), err: `service_type "kafka" is not supported: osccr runs opensearch only`},
		{name: "less disk than the plan's", body: with(t, map[string]any{"disk_space_mb": 1024}), err: "disk_space_mb 1024 is less than plan business-4's 81920 MB"},
		{name: "disk not in whole GB", body: with(t, map[string]any{"disk_space_mb": 82000}), err: "disk_space_mb 82000 is not plan business-4's 81920 MB plus whole GB"},
		{name: "disk both ways", body: with(t, map[string]any{"disk_space_mb": 90 * 1024, "extra_disk_gb": 10}), err: "give disk_space_mb or extra_disk_gb, not both"},
		{name: "disk on an unknown plan", body: with(t, map[string]any{"disk_space_mb": 90 * 1024, "plan": "gold"}), err: `disk_space_mb needs a known plan: unknown plan "gold"`},
		{name: "a read replica", body: with(t, map[string]any{"service_integrations": []any{map[string]any{"integration_type": "read_replica", "source_service": "lead"}}}),
			err: `integration_type "read_replica" is not supported`},
		{name: "two integrations", body: with(t, map[string]any{"service_integrations": append(ccr("a", nil), ccr("b", nil)...)}), err: "service_integrations has 2 entries"},
		{name: "an integration into another service", body: with(t, map[string]any{"service_integrations": ccr("lead", map[string]any{"dest_service": "other"})}), err: `dest_service "other" is not the service being created (s1)`},
		{name: "an integration without a source", body: with(t, map[string]any{"service_integrations": ccr("", nil)}), err: "source_service is empty"},
		{name: "an integration from an endpoint", body: with(t, map[string]any{"service_integrations": ccr("lead", map[string]any{"source_endpoint_id": "e-1"})}), err: "osccr has no integration endpoints"},
		{name: "an integration from another project", body: with(t, map[string]any{"service_integrations": ccr("lead", map[string]any{"source_project": "other"})}), err: `source_project "other": this control plane serves project "default" only`},
		{name: "a registered follower", body: `{"service_name":"s1","plan":"business-4","url":"http://h:9200","transport_address":"h:9300","service_integrations":[{"integration_type":"opensearch_cross_cluster_replication","source_service":"lead"}]}`,
			err: "a registered cluster (url, transport_address) cannot be created as a follower"},
		{name: "a registered cluster with disk", body: `{"service_name":"s1","plan":"business-4","url":"http://h:9200","transport_address":"h:9300","extra_disk_gb":5}`, err: "a registered cluster's disk is its own"},
		{name: "every problem at once", body: with(t, map[string]any{"cmk_id": "k", "static_ips": []any{"ip"}, "service_type": "pg"}),
			err: "cmk_id \"k\" is not supported: osccr has no customer managed keys; leave it out or send null\nstatic_ips"},
		{name: "an unknown field", body: with(t, map[string]any{"karapace": true}), err: `unknown field "karapace"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req CreateServiceRequest
			err := decodeBody(t, tt.body, &req)
			var got serviceCreation
			if err == nil {
				got, err = req.creation("default")
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || classifyCode(err) != "invalid" {
					t.Fatalf("= %+v, %v; want an invalid request saying %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("= %s, want %s", describe(got), describe(tt.want))
			}
		})
	}
}

func classifyCode(err error) string {
	_, code := classify(err)
	return code
}

func describe(c serviceCreation) string {
	raw, _ := json.Marshal(map[string]any{"create": c.create, "register": c.register, "follower": c.follower})
	return string(raw)
}

// TestPutServiceFields: every field of Aiven's update (PUT), a row each: a value equal to the
// service's passes and changes nothing, one osccr applies is recorded as the change to make,
// one osccr cannot honour is refused (400) naming the field. putFields is the table; every one
// of its fields has rows here.
func TestPutServiceFields(t *testing.T) {
	st := workflows.ServiceState{ServiceSpec: contract.ServiceSpec{Name: "s1", Plan: "business-4", Cloud: "local", ExtraDiskGB: 2}, State: workflows.StateRunning}
	moving := st
	moving.PlanTarget = "business-8"
	on, off := true, false
	tests := []struct {
		field, name, body string
		st                *workflows.ServiceState
		want              serviceUpdate
		err               string
	}{
		{field: "plan", name: "the same", body: `{"plan":"business-4"}`},
		{field: "plan", name: "left out", body: `{}`},
		{field: "plan", name: "another: applied", body: `{"plan":"business-8"}`, want: serviceUpdate{plan: "business-8"}},
		{field: "plan", name: "the one a change under way moves to: waited for", st: &moving, body: `{"plan":"business-8"}`, want: serviceUpdate{plan: "business-8"}},
		{field: "plan", name: "unknown", body: `{"plan":"gold"}`, err: `plan: unknown plan "gold"`},
		{field: "cloud", name: "the same", body: `{"cloud":"local"}`},
		{field: "cloud", name: "another", body: `{"cloud":"aws-eu-west-1"}`, err: `cloud "aws-eu-west-1": a service cannot move; s1 stays in local`},
		{field: "disk_space_mb", name: "the same", body: `{"plan":"business-4","disk_space_mb":83968}`},
		{field: "disk_space_mb", name: "0", body: `{"disk_space_mb":0}`},
		{field: "disk_space_mb", name: "the new plan's, with the same extra disk", body: `{"plan":"business-8","disk_space_mb":181248}`, want: serviceUpdate{plan: "business-8"}},
		{field: "disk_space_mb", name: "another", body: `{"plan":"business-4","disk_space_mb":90000}`, err: "disk_space_mb 90000: osccr cannot resize a service's disk (s1 has 83968 MB on plan business-4"},
		{field: "disk_space_mb", name: "the old plan's with a new plan", body: `{"plan":"business-8","disk_space_mb":83968}`, err: "disk_space_mb 83968: osccr cannot resize"},
		{field: "powered", name: "on", body: `{"powered":true}`},
		{field: "powered", name: "off", body: `{"powered":false}`, err: "powered false is not supported: osccr cannot power a service off"},
		{field: "termination_protection", name: "the same", body: `{"termination_protection":false}`},
		{field: "termination_protection", name: "on: applied", body: `{"termination_protection":true}`, want: serviceUpdate{terminationProtection: &on}},
		{field: "termination_protection", name: "off: applied", st: func() *workflows.ServiceState { p := st; p.TerminationProtection = true; return &p }(),
			body: `{"termination_protection":false}`, want: serviceUpdate{terminationProtection: &off}},
		{field: "maintenance", name: "none", body: `{"maintenance":null}`},
		{field: "maintenance", name: "osccr's own", body: `{"maintenance":{"dow":"never","time":"00:00:00"}}`},
		{field: "maintenance", name: "a window", body: `{"maintenance":{"dow":"monday","time":"10:00:00"}}`, err: "maintenance {\"dow\":\"monday\",\"time\":\"10:00:00\"} is not supported: osccr has no maintenance windows"},
		{field: "project_vpc_id", name: "none", body: `{"project_vpc_id":null}`},
		{field: "project_vpc_id", name: "a VPC", body: `{"project_vpc_id":"1234"}`, err: `project_vpc_id "1234" is not supported: osccr runs no VPCs`},
		{field: "user_config", name: "empty", body: `{"user_config":{}}`},
		{field: "user_config", name: "a setting", body: `{"user_config":{"x":1}}`, err: "user_config {\"x\":1} is not supported"},
		{field: "tech_emails", name: "none", body: `{"tech_emails":[]}`},
		{field: "tech_emails", name: "an address", body: `{"tech_emails":[{"email":"a@example.com"}]}`, err: "tech_emails [{\"email\":\"a@example.com\"}] is not supported: osccr sends no technical emails"},
		{field: "cmk_id", name: "none", body: `{"cmk_id":null}`},
		{field: "cmk_id", name: "a key", body: `{"cmk_id":"k1"}`, err: `cmk_id "k1" is not supported: osccr has no customer managed keys`},
		{field: "group_name", name: "default", body: `{"group_name":"default"}`},
		{field: "group_name", name: "another", body: `{"group_name":"ops"}`, err: `group_name "ops" is not supported`},
		{field: "karapace", name: "false", body: `{"karapace":false}`},
		{field: "karapace", name: "true", body: `{"karapace":true}`, err: "karapace true is not supported: karapace is a Kafka feature"},
		{field: "schema_registry_authz", name: "false", body: `{"schema_registry_authz":false}`},
		{field: "schema_registry_authz", name: "true", body: `{"schema_registry_authz":true}`, err: "schema_registry_authz true is not supported"},
		{field: "disaster_recovery_role", name: "none", body: `{"disaster_recovery_role":null}`},
		{field: "disaster_recovery_role", name: "a role", body: `{"disaster_recovery_role":"passive"}`, err: "osccr's disaster recovery is a follower"},

		{field: "(all)", name: "what the Terraform provider sends unchanged", body: `{"cloud":"local","plan":"business-4","project_vpc_id":null,"powered":true,"termination_protection":false,"disk_space_mb":83968,"user_config":{},"tech_emails":[]}`},
		{field: "(all)", name: "its plan change", body: `{"cloud":"local","plan":"business-8","project_vpc_id":null,"powered":true,"termination_protection":false,"disk_space_mb":181248,"user_config":{},"tech_emails":[]}`,
			want: serviceUpdate{plan: "business-8"}},
		{field: "(all)", name: "two refused at once, nothing changed", body: `{"plan":"business-8","termination_protection":true,"powered":false,"cloud":"elsewhere"}`, err: "cloud \"elsewhere\""},
		{field: "(all)", name: "an unknown field", body: `{"plan":"business-4","powerd":false}`, err: `unknown field "powerd"`},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.field] = true
		t.Run(tt.field+": "+tt.name, func(t *testing.T) {
			on := st
			if tt.st != nil {
				on = *tt.st
			}
			var req PutServiceRequest
			err := decodeBody(t, tt.body, &req)
			var got serviceUpdate
			if err == nil {
				got, err = req.update(on)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || classifyCode(err) != "invalid" || got != (serviceUpdate{}) {
					t.Fatalf("= %+v, %v; want an invalid request saying %q and nothing to change", got, err, tt.err)
				}
				return
			}
			if err != nil || got.plan != tt.want.plan || (got.terminationProtection == nil) != (tt.want.terminationProtection == nil) ||
				got.terminationProtection != nil && *got.terminationProtection != *tt.want.terminationProtection {
				t.Errorf("= %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	for _, f := range putFields {
		if !covered[f.name] {
			t.Errorf("field %s of putFields has no row", f.name)
		}
	}
}

// TestPutServiceFieldsDocumented: the update's fields, the table that handles them and the
// OpenAPI document's schema name the same fields.
func TestPutServiceFieldsDocumented(t *testing.T) {
	var inRequest, inTable, inDoc []string
	rt := reflect.TypeFor[PutServiceRequest]()
	for i := range rt.NumField() {
		inRequest = append(inRequest, strings.Split(rt.Field(i).Tag.Get("json"), ",")[0])
	}
	for _, f := range putFields {
		inTable = append(inTable, f.name)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	for name := range doc.Components.Schemas["PutServiceRequest"].Properties {
		inDoc = append(inDoc, name)
	}
	slices.Sort(inRequest)
	slices.Sort(inTable)
	slices.Sort(inDoc)
	if !slices.Equal(inRequest, inTable) || !slices.Equal(inTable, inDoc) {
		t.Errorf("fields of the request %v\nof putFields %v\nof the OpenAPI schema %v", inRequest, inTable, inDoc)
	}
}

// TestServiceConnectionDetails: a service's connection details are in the answer to a GET of
// that service (with its credentials when it has any), and a service listing has no field
// that could carry them.
func TestServiceConnectionDetails(t *testing.T) {
	st := workflows.ServiceState{ServiceSpec: contract.ServiceSpec{Name: "s1", Plan: "business-4", Cloud: "local"}, Role: workflows.RoleStandalone,
		State: workflows.StateRunning, Endpoints: contract.ServiceEndpoints{HTTPURL: "http://127.0.0.1:9250"}, CreatedAt: time.Unix(1700000000, 0).UTC()}
	fields := func(v any) map[string]any {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	hidden := fields(serviceView(st, nil))
	for _, key := range []string{"service_uri", "service_uri_params"} {
		if _, ok := hidden[key]; ok {
			t.Errorf("a service view not asked to reveal its connection has %s: %v", key, hidden)
		}
	}
	for key, want := range map[string]any{"service_name": "s1", "service_type": "opensearch", "cloud_name": "local", "state": "RUNNING", "plan": "business-4",
		"name": "s1", "role": "standalone", "disk_space_mb": float64(80 * 1024), "create_time": "2023-11-14T22:13:20Z"} {
		if hidden[key] != want {
			t.Errorf("service view %s = %v, want %v", key, hidden[key], want)
		}
	}

	if m, _ := hidden["maintenance"].(map[string]any); m["dow"] != "never" || hidden["osccr_state"] != "RUNNING" {
		t.Errorf("service view: maintenance %v, osccr_state %v; want dow never (Aiven's clients read it unchecked) and RUNNING", hidden["maintenance"], hidden["osccr_state"])
	}
	if ci, _ := hidden["connection_info"].(map[string]any); ci == nil || ci["opensearch"] == nil || len(ci["opensearch"].([]any)) != 0 {
		t.Errorf("service view not revealing its connection: connection_info %v, want an empty opensearch list", hidden["connection_info"])
	}

	plain := serviceView(st, nil)
	plain.revealConnection(nil)
	if plain.ServiceURI != "http://127.0.0.1:9250" || !reflect.DeepEqual(plain.ServiceURIParams, map[string]string{"host": "127.0.0.1", "port": "9250"}) {
		t.Errorf("revealed without credentials: %q %v", plain.ServiceURI, plain.ServiceURIParams)
	}
	secured := serviceView(st, nil)
	secured.revealConnection(url.UserPassword("admin", "pw"))
	if secured.ServiceURI != "http://admin:pw@127.0.0.1:9250" || secured.ServiceURIParams["user"] != "admin" || secured.ServiceURIParams["password"] != "pw" {
		t.Errorf("revealed with credentials: %q %v", secured.ServiceURI, secured.ServiceURIParams)
	}
	if ci := secured.ConnectionInfo; !reflect.DeepEqual(ci.OpenSearch, []string{secured.ServiceURI}) || ci.OpenSearchUsername != "admin" || ci.OpenSearchPassword != "pw" {
		t.Errorf("connection_info revealed with credentials: %+v", ci)
	}

	item := reflect.TypeOf(ServiceListItem{})
	for _, f := range reflect.VisibleFields(item) {
		if tag := f.Tag.Get("json"); strings.HasPrefix(tag, "service_uri") || strings.HasPrefix(tag, "endpoints") {
			t.Errorf("a service list item has the field %s (%s)", f.Name, tag)
		}
	}
}

// TestAivenState: every state osccr gives a service maps onto one of Aiven's, the one Aiven's
// clients treat alike (RUNNING done, REBUILDING and REBALANCING pending, POWEROFF not serving).
func TestAivenState(t *testing.T) {
	for osccr, aiven := range map[string]string{
		workflows.StateProvisioning: "REBUILDING", workflows.StateRebuilding: "REBUILDING", workflows.StateRunning: "RUNNING",
		workflows.StatePaused: "REBALANCING", workflows.StatePromoting: "REBALANCING",
		workflows.StateDeleting: "POWEROFF", workflows.StateFailed: "POWEROFF", "": "POWEROFF",
	} {
		if got := AivenState(osccr); got != aiven {
			t.Errorf("AivenState(%q) = %q, want %q", osccr, got, aiven)
		}
	}
}

// TestAivenHandler: the Aiven token scheme, the error envelope, and the endpoints the Aiven
// client asks before creating a service, through the real handler. Every request here is
// answered before the application layer would reach Temporal, so none runs.
func TestAivenHandler(t *testing.T) {
	srv := httptest.NewServer(Handler(control.New(nil), Config{Token: "tok", Project: "default"}))
	defer srv.Close()
	const p = "/v1/project/default"
	tests := []struct {
		name, method, path, auth, body string
		status                         int
		want                           string // in the body
	}{
		{name: "the Aiven token scheme", method: "GET", path: p + "/vpcs", auth: "aivenv1 tok", status: 200, want: `{"vpcs":[]}`},
		{name: "the bearer scheme", method: "GET", path: p + "/vpcs", auth: "Bearer tok", status: 200, want: `{"vpcs":[]}`},
		{name: "a wrong Aiven token", method: "GET", path: p + "/vpcs", auth: "aivenv1 nope", status: 401,
			want: `"errors":[{"message":"missing or wrong bearer token: send Authorization: Bearer \u003ctoken\u003e (or aivenv1 \u003ctoken\u003e, as the Aiven client does)","status":401,"error_code":"unauthorized"}]`},
		{name: "a token without a scheme", method: "GET", path: p + "/vpcs", auth: "tok", status: 401, want: `"code":"unauthorized"`},
		{name: "the opensearch service type", method: "GET", path: p + "/service-types/opensearch", auth: "aivenv1 tok", status: 200, want: `"user_config_schema":{"additionalProperties":false,"properties":{},"type":"object"}`},
		{name: "another service type", method: "GET", path: p + "/service-types/kafka", auth: "aivenv1 tok", status: 404, want: `no service type \"kafka\": osccr runs opensearch only","code":"not_found","errors":[{`},
		{name: "every service type", method: "GET", path: p + "/service_types", auth: "aivenv1 tok", status: 200, want: `{"service_types":{"opensearch":{"description"`},
		{name: "another project", method: "GET", path: "/v1/project/other/vpcs", auth: "aivenv1 tok", status: 404, want: `"status":404,"error_code":"not_found"`},
		{name: "a create osccr cannot honour", method: "POST", path: p + "/service", auth: "aivenv1 tok", body: with(t, map[string]any{"project_vpc_id": "vpc-1"}), status: 400,
			want: `project_vpc_id \"vpc-1\" is not supported: osccr runs no VPCs: a service answers at its endpoints; leave it out or send null","code":"invalid","errors":[{"message":"bad request: project_vpc_id`},
		{name: "an integration from an endpoint", method: "POST", path: p + "/integration", auth: "aivenv1 tok",
			body:   `{"source_endpoint_id":"e-1","source_service":null,"dest_endpoint_id":null,"dest_service":"b","integration_type":"opensearch_cross_cluster_replication","user_config":{}}`,
			status: 400, want: `source_endpoint_id \"e-1\" is not supported: osccr has no integration endpoints`},
		{name: "an integration into another project", method: "POST", path: p + "/integration", auth: "aivenv1 tok",
			body:   `{"source_service":"a","dest_service":"b","dest_project":"other","integration_type":"opensearch_cross_cluster_replication"}`,
			status: 400, want: `dest_project \"other\": this control plane serves project \"default\" only`},
		{name: "a plan's specification", method: "GET", path: p + "/service-types/opensearch/plans/business-4", auth: "aivenv1 tok", status: 200,
			want: `"disk_space_mb":81920,"disk_space_step_mb":1024`},
		{name: "an unknown plan", method: "GET", path: p + "/service-types/opensearch/plans/gold", auth: "aivenv1 tok", status: 404, want: `unknown plan \"gold\"`},
		{name: "the project's static IPs", method: "GET", path: p + "/static-ips", auth: "aivenv1 tok", status: 200, want: `{"static_ips":[]}`},
		{name: "tags osccr cannot keep", method: "PUT", path: p + "/service/s1/tags", auth: "aivenv1 tok", body: `{"tags":{"team":"search"}}`, status: 400,
			want: `tags {\"team\":\"search\"} are not supported: osccr keeps no tags on a service`},
		{name: "PUT on the services", method: "PUT", path: p + "/service", auth: "aivenv1 tok", body: avnCreate, status: 405, want: `"status":405,"error_code":"method_not_allowed"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", tt.auth)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(raw), tt.want) {
				t.Errorf("%s %s = %d %s\nwant %d with %s", tt.method, tt.path, resp.StatusCode, raw, tt.status, tt.want)
			}
		})
	}
}

// TestConnectionUserByRole: a GET of one service reveals a local service's generated password
// to an admin only, and a registered cluster's password to no one (its reference could name any
// file of the machine: the answer must not read it out).
func TestConnectionUserByRole(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s1")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "admin.password")
	if err := os.WriteFile(pwFile, []byte("generated-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	local := workflows.ServiceState{ServiceSpec: contract.ServiceSpec{Name: "s1", Backend: contract.BackendLocal, Security: contract.SecurityPlugin},
		Endpoints: contract.ServiceEndpoints{HTTPURL: "https://127.0.0.1:9250", Auth: contract.ClusterAuth{Username: "admin", PasswordFile: pwFile}}}
	registered := workflows.ServiceState{ServiceSpec: contract.ServiceSpec{Name: "ext", Backend: contract.BackendStatic, URL: "https://127.0.0.1:9250",
		ClusterAuth: contract.ClusterAuth{Username: "osccr", PasswordFile: "/etc/shadow"}}, Endpoints: contract.ServiceEndpoints{HTTPURL: "https://127.0.0.1:9250"}}
	for _, tt := range []struct {
		name  string
		st    workflows.ServiceState
		admin bool
		want  string
	}{
		{"local, admin", local, true, "admin:generated-pw"},
		{"local, not admin", local, false, "admin"},
		{"registered, admin", registered, true, "osccr"},
		{"registered, not admin", registered, false, "osccr"},
	} {
		if got := connectionUser(tt.st, tt.admin).String(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
