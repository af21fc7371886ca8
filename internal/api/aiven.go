package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/plan"
	"github.com/osccr/osccr/workflows"
)

// The API's services and service integrations have the shapes of the Aiven API (the paths
// /v1/project/{project}/service... are the same), so that the official Aiven client (`avn`, the
// aiven-client package) and scripts written against that API drive osccr. osccr's own, richer
// fields sit beside Aiven's in the same objects, under their own names. This file maps between
// the two: it holds no rule of its own (the application layer decides), only the translation
// of names and units, and the refusal of Aiven fields osccr cannot honour.

// ServiceTypeOpenSearch is the one Aiven service type osccr runs.
const ServiceTypeOpenSearch = "opensearch"

// Service is one service as GET /service/{service} answers it, under "service": Aiven's fields
// first, then everything osccr knows (workflows.ServiceState: name, plan, cloud, region, role,
// leader, followers, state, reason, endpoints, replication, promotion, ...).
type Service struct {
	ServiceName string `json:"service_name"`
	ServiceType string `json:"service_type"`
	CloudName   string `json:"cloud_name"`
	// DiskSpaceMB is the service's disk: its plan's plus its extra disk, in MB.
	DiskSpaceMB int        `json:"disk_space_mb,omitempty"`
	CreateTime  *time.Time `json:"create_time,omitempty"`
	// UserConfig is always empty: osccr takes no user configuration.
	UserConfig            map[string]any `json:"user_config"`
	TerminationProtection bool           `json:"termination_protection"`
	// ServiceIntegrations are the integrations the service is source or dest of (null in the
	// answer to a create or an update, which does not look them up).
	ServiceIntegrations []ServiceIntegration `json:"service_integrations"`
	// ServiceURI and ServiceURIParams are how to connect to the service, with its credentials
	// when it has any: only the answer to a GET of this one service carries them (a GET of one
	// service is the explicit request to reveal them); lists, creates and updates never do.
	ServiceURI       string            `json:"service_uri,omitempty"`
	ServiceURIParams map[string]string `json:"service_uri_params,omitempty"`
	// State is Aiven's state of the service (AivenState), what Aiven's clients wait on;
	// OsccrState is osccr's own (PROVISIONING, REBUILDING, RUNNING, PAUSED, PROMOTING, ...).
	State      string `json:"state"`
	OsccrState string `json:"osccr_state"`
	// Maintenance is always present, as in Aiven's answers (its clients read it without a
	// check): osccr installs no updates on its own, so its day is "never".
	Maintenance Maintenance `json:"maintenance"`
	// ConnectionInfo is always present too; its opensearch URIs are filled in, like
	// service_uri, only in the answer to a GET of this one service.
	ConnectionInfo ConnectionInfo `json:"connection_info"`
	ProjectVPCID   string         `json:"project_vpc_id"`
	GroupList      []string       `json:"group_list"`
	workflows.ServiceState
}

// Maintenance is Aiven's maintenance window of a service.
type Maintenance struct {
	Dow     string `json:"dow"`
	Time    string `json:"time"`
	Enabled bool   `json:"enabled"`
	Updates []any  `json:"updates"`
}

// ConnectionInfo is Aiven's connection_info of an OpenSearch service.
type ConnectionInfo struct {
	OpenSearch         []string `json:"opensearch"`
	OpenSearchUsername string   `json:"opensearch_username,omitempty"`
	OpenSearchPassword string   `json:"opensearch_password,omitempty"`
}

// AivenState maps osccr's state of a service onto Aiven's service states (RUNNING,
// REBUILDING, REBALANCING, POWEROFF), which Aiven's clients know and wait on:
//
//	osccr                          Aiven
//	PROVISIONING, REBUILDING       REBUILDING  (being built; a follower bootstrapping)
//	RUNNING                        RUNNING
//	PAUSED, PROMOTING              REBALANCING (running, replication held or ending)
//	DELETING, FAILED, anything else POWEROFF   (not serving; a wait fails at once)
func AivenState(osccrState string) string {
	switch osccrState {
	case workflows.StateRunning:
		return "RUNNING"
	case workflows.StateProvisioning, workflows.StateRebuilding, workflows.StateUnhealthy, workflows.StateRepairing:
		// UNHEALTHY and REPAIRING: its cluster is down or red, Aiven's state while a
		// service's nodes are being replaced.
		return "REBUILDING"
	case workflows.StatePaused, workflows.StatePromoting:
		return "REBALANCING"
	}
	return "POWEROFF"
}

// ServiceListItem is one service of GET /service, under "services": what the visibility store
// holds, no connection details.
type ServiceListItem struct {
	ServiceName string `json:"service_name"`
	ServiceType string `json:"service_type"`
	// State is Aiven's (AivenState), OsccrState osccr's own.
	State      string `json:"state"`
	OsccrState string `json:"osccr_state"`
	control.ServiceSummary
}

// ServiceIntegration is an integration as Aiven's API shows it (service_integration_id,
// source and dest, enabled, active), with osccr's fields beside (integration_id, the same ID;
// state, reason, workflow_id).
type ServiceIntegration struct {
	ServiceIntegrationID string         `json:"service_integration_id"`
	SourceProject        string         `json:"source_project"`
	DestProject          string         `json:"dest_project"`
	SourceServiceType    string         `json:"source_service_type"`
	DestServiceType      string         `json:"dest_service_type"`
	SourceEndpointID     *string        `json:"source_endpoint_id"`
	DestEndpointID       *string        `json:"dest_endpoint_id"`
	Enabled              bool           `json:"enabled"`
	Active               bool           `json:"active"`
	Description          string         `json:"description"`
	UserConfig           map[string]any `json:"user_config"`
	control.Integration
}

func (s *server) serviceIntegration(in control.Integration) ServiceIntegration {
	return ServiceIntegration{
		ServiceIntegrationID: in.ID, SourceProject: s.cfg.Project, DestProject: s.cfg.Project,
		SourceServiceType: ServiceTypeOpenSearch, DestServiceType: ServiceTypeOpenSearch,
		// An integration exists as long as its follower follows; it is active once its
		// follower is RUNNING (Aiven's clients wait for active: not while it rebuilds, nor
		// PAUSED, FAILED or on the way out).
		Enabled:     true,
		Active:      in.State == workflows.StateRunning,
		Description: fmt.Sprintf("cross-cluster replication of %s into %s", in.Source, in.Dest),
		UserConfig:  map[string]any{}, Integration: in,
	}
}

func (s *server) serviceIntegrations(list []control.Integration) []ServiceIntegration {
	out := make([]ServiceIntegration, 0, len(list))
	for _, in := range list {
		out = append(out, s.serviceIntegration(in))
	}
	return out
}

// serviceView is a service as the API shows it; integrations are those it takes part in (nil
// when not looked up).
func serviceView(st workflows.ServiceState, integrations []ServiceIntegration) Service {
	v := Service{ServiceName: st.Name, ServiceType: ServiceTypeOpenSearch, CloudName: st.Cloud, UserConfig: map[string]any{},
		TerminationProtection: st.TerminationProtection, ServiceIntegrations: integrations, ServiceState: st, State: AivenState(st.State), OsccrState: st.State,
		Maintenance:    Maintenance{Dow: "never", Time: "00:00:00", Updates: []any{}},
		ConnectionInfo: ConnectionInfo{OpenSearch: []string{}}, GroupList: []string{"default"}}
	if p, err := plan.Default().Lookup(st.Plan); err == nil {
		v.DiskSpaceMB = (p.DiskGB + st.ExtraDiskGB) * 1024
	}
	if !st.CreatedAt.IsZero() {
		created := st.CreatedAt
		v.CreateTime = &created
	}
	return v
}

// revealConnection sets the service's connection details. user carries the service's
// credentials when it has any (a plain service has none: the URI is the endpoint alone).
func (v *Service) revealConnection(user *url.Userinfo) {
	if v.Endpoints.HTTPURL == "" {
		return
	}
	u, err := url.Parse(v.Endpoints.HTTPURL)
	if err != nil {
		return
	}
	u.User = user
	v.ServiceURI = u.String()
	v.ServiceURIParams = map[string]string{"host": u.Hostname(), "port": u.Port()}
	v.ConnectionInfo.OpenSearch = []string{v.ServiceURI}
	if user != nil {
		v.ServiceURIParams["user"] = user.Username()
		v.ConnectionInfo.OpenSearchUsername = user.Username()
		if pw, ok := user.Password(); ok {
			v.ServiceURIParams["password"] = pw
			v.ConnectionInfo.OpenSearchPassword = pw
		}
	}
}

// CreateServiceRequest creates a service: Aiven's request (service_name, service_type, plan,
// cloud, disk_space_mb, service_integrations, and the fields its client always sends) with
// osccr's own (region, extra_disk_gb; url and transport_address register an existing cluster).
// One service_integrations entry of type opensearch_cross_cluster_replication with a
// source_service creates the service as that service's follower.
type CreateServiceRequest struct {
	ServiceName         string                  `json:"service_name"`
	ServiceType         string                  `json:"service_type,omitempty"`
	Plan                string                  `json:"plan"`
	Cloud               string                  `json:"cloud,omitempty"`
	DiskSpaceMB         *int                    `json:"disk_space_mb,omitempty"`
	ServiceIntegrations []NewServiceIntegration `json:"service_integrations,omitempty"`

	Region           string `json:"region,omitempty"`
	ExtraDiskGB      int    `json:"extra_disk_gb,omitempty"`
	URL              string `json:"url,omitempty"`
	TransportAddress string `json:"transport_address,omitempty"`
	// Auth says how the worker reaches a registered secured cluster, by reference only (files
	// and environment variables on the worker's machine).
	Auth contract.ClusterAuth `json:"auth,omitzero"`
	// Machine pins a local service's nodes to a worker's machine.
	Machine string `json:"machine,omitempty"`
	// Security is "none" for a plain-HTTP local service; left out, it is secured.
	Security string `json:"security,omitempty"`
	// TerminationProtection, as Aiven's: while on, a delete of the service is refused.
	TerminationProtection bool `json:"termination_protection,omitempty"`

	unhonoured
	StaticIPs    json.RawMessage `json:"static_ips,omitempty"`
	ProjectVPCID json.RawMessage `json:"project_vpc_id,omitempty"`
	Tags         json.RawMessage `json:"tags,omitempty"`
	TechEmails   json.RawMessage `json:"tech_emails,omitempty"`
	Maintenance  json.RawMessage `json:"maintenance,omitempty"`
}

// unhonoured are Aiven request fields osccr has no counterpart for, on every write: accepted
// when empty (null, false, "", {}, [], as the Aiven client sends by default), refused otherwise.
type unhonoured struct {
	UserConfig json.RawMessage `json:"user_config,omitempty"`
	CMKID      json.RawMessage `json:"cmk_id,omitempty"`
}

func (u unhonoured) problems() []error {
	return refuseSet([]setField{
		{"user_config", u.UserConfig, "osccr takes no user configuration: its services run the OpenSearch settings osccr gives them"},
		{"cmk_id", u.CMKID, "osccr has no customer managed keys"},
	})
}

// NewServiceIntegration is an integration to create with a service (the service is its dest).
type NewServiceIntegration struct {
	IntegrationType  string          `json:"integration_type"`
	SourceService    string          `json:"source_service"`
	DestService      string          `json:"dest_service,omitempty"`
	SourceProject    string          `json:"source_project,omitempty"`
	SourceEndpointID json.RawMessage `json:"source_endpoint_id,omitempty"`
	DestEndpointID   json.RawMessage `json:"dest_endpoint_id,omitempty"`
	UserConfig       json.RawMessage `json:"user_config,omitempty"`
}

// setField is a request field osccr cannot honour and why.
type setField struct {
	name string
	raw  json.RawMessage
	why  string
}

// refuseSet returns a problem for each field that is set to something else than empty.
func refuseSet(fields []setField) []error {
	var problems []error
	for _, f := range fields {
		if !emptyJSON(f.raw) {
			problems = append(problems, fmt.Errorf("%s %s is not supported: %s; leave it out or send null", f.name, compact(f.raw), f.why))
		}
	}
	return problems
}

// emptyJSON reports whether a JSON value is absent or empty: null, false, 0, "", {} or [].
func emptyJSON(raw json.RawMessage) bool {
	if len(bytes.TrimSpace(raw)) == 0 {
		return true
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case float64:
		return v == 0
	case string:
		return v == ""
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

// compact shortens a JSON value for an error message.
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		b.Reset()
		b.Write(raw)
	}
	s := b.String()
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// serviceCreation is what a create request asks of the application layer: exactly one of
// its fields is set.
type serviceCreation struct {
	create   *control.CreateServiceRequest
	register *control.RegisterServiceRequest
	follower *control.CreateFollowerRequest
}

// creation maps a create request onto the application layer's requests, refusing (ErrInvalid)
// what osccr cannot honour. Names, plans and the rest are the application layer's to check.
func (req CreateServiceRequest) creation(project string) (serviceCreation, error) {
	problems := req.unhonoured.problems()
	problems = append(problems, refuseSet([]setField{
		{"static_ips", req.StaticIPs, "osccr assigns no static IP addresses"},
		{"project_vpc_id", req.ProjectVPCID, "osccr runs no VPCs: a service answers at its endpoints"},
		{"tags", req.Tags, "osccr keeps no tags"},
		{"tech_emails", req.TechEmails, "osccr sends no technical emails"},
		{"maintenance", req.Maintenance, "osccr has no maintenance windows"},
	})...)
	if req.ServiceType != "" && req.ServiceType != ServiceTypeOpenSearch {
		problems = append(problems, fmt.Errorf("service_type %q is not supported: osccr runs %s only", req.ServiceType, ServiceTypeOpenSearch))
	}
	extra, err := req.extraDiskGB()
	if err != nil {
		problems = append(problems, err)
	}
	var leader string
	switch len(req.ServiceIntegrations) {
	case 0:
	case 1:
		var err error
		if leader, err = req.ServiceIntegrations[0].leader(req.ServiceName, project); err != nil {
			problems = append(problems, err)
		}
	default:
		problems = append(problems, fmt.Errorf("service_integrations has %d entries: osccr creates a service with at most one, its %s from a source_service", len(req.ServiceIntegrations), control.IntegrationTypeCCR))
	}
	registering := req.URL != "" || req.TransportAddress != ""
	if registering && leader != "" {
		problems = append(problems, errors.New("a registered cluster (url, transport_address) cannot be created as a follower: register it, then POST /v1/project/{project}/integration"))
	}
	if len(problems) > 0 {
		return serviceCreation{}, fmt.Errorf("%w: %w", errBadRequest, errors.Join(problems...))
	}
	switch {
	case leader != "":
		return serviceCreation{follower: &control.CreateFollowerRequest{Leader: leader, Name: req.ServiceName, Plan: req.Plan, Cloud: req.Cloud, Region: req.Region, ExtraDiskGB: extra,
			TerminationProtection: req.TerminationProtection}}, nil
	case registering:
		if extra != 0 {
			return serviceCreation{}, fmt.Errorf("%w: a registered cluster's disk is its own: leave disk_space_mb and extra_disk_gb out", errBadRequest)
		}
		return serviceCreation{register: &control.RegisterServiceRequest{Name: req.ServiceName, URL: req.URL, TransportAddress: req.TransportAddress, Plan: req.Plan, Cloud: req.Cloud, Region: req.Region, Auth: req.Auth,
			TerminationProtection: req.TerminationProtection}}, nil
	}
	return serviceCreation{create: &control.CreateServiceRequest{Name: req.ServiceName, Plan: req.Plan, Cloud: req.Cloud, Region: req.Region, ExtraDiskGB: extra, Machine: req.Machine, Security: req.Security,
		TerminationProtection: req.TerminationProtection}}, nil
}

// extraDiskGB converts Aiven's disk_space_mb (the service's whole disk) to osccr's extra disk
// on top of the plan's, in whole GB.
func (req CreateServiceRequest) extraDiskGB() (int, error) {
	if req.DiskSpaceMB == nil || *req.DiskSpaceMB == 0 {
		return req.ExtraDiskGB, nil
	}
	if req.ExtraDiskGB != 0 {
		return 0, errors.New("give disk_space_mb or extra_disk_gb, not both")
	}
	p, err := plan.Default().Lookup(req.Plan)
	if err != nil {
		return 0, fmt.Errorf("disk_space_mb needs a known plan: %w", err)
	}
	return extraDiskFromMB(p, *req.DiskSpaceMB)
}

func extraDiskFromMB(p plan.Plan, mb int) (int, error) {
	base := p.DiskGB * 1024
	switch {
	case mb < base:
		return 0, fmt.Errorf("disk_space_mb %d is less than plan %s's %d MB: a service has at least its plan's disk", mb, p.Name, base)
	case (mb-base)%1024 != 0:
		return 0, fmt.Errorf("disk_space_mb %d is not plan %s's %d MB plus whole GB (1024 MB each)", mb, p.Name, base)
	}
	return (mb - base) / 1024, nil
}

// leader returns the service a create request's integration makes the new service follow.
func (in NewServiceIntegration) leader(service, project string) (string, error) {
	var problems []error
	if in.IntegrationType != control.IntegrationTypeCCR {
		problems = append(problems, fmt.Errorf("service_integrations: integration_type %q is not supported: osccr creates a service with an integration of type %q (cross-cluster replication from source_service into the new service)", in.IntegrationType, control.IntegrationTypeCCR))
	}
	if in.SourceService == "" {
		problems = append(problems, errors.New("service_integrations: source_service is empty: name the service to replicate"))
	}
	if in.DestService != "" && in.DestService != service {
		problems = append(problems, fmt.Errorf("service_integrations: dest_service %q is not the service being created (%s): the new service is the dest", in.DestService, service))
	}
	if in.SourceProject != "" && in.SourceProject != project {
		problems = append(problems, fmt.Errorf("service_integrations: source_project %q: this control plane serves project %q only", in.SourceProject, project))
	}
	problems = append(problems, refuseSet([]setField{
		{"service_integrations: source_endpoint_id", in.SourceEndpointID, "osccr has no integration endpoints: name the source_service"},
		{"service_integrations: dest_endpoint_id", in.DestEndpointID, "osccr has no integration endpoints"},
		{"service_integrations: user_config", in.UserConfig, "osccr's replication takes no user configuration"},
	})...)
	return in.SourceService, errors.Join(problems...)
}

// CreateIntegrationRequest is Aiven's service integration request; osccr's integrations join
// services (source_service, dest_service), never endpoints.
type CreateIntegrationRequest struct {
	IntegrationType  string          `json:"integration_type"`
	SourceService    string          `json:"source_service"`
	DestService      string          `json:"dest_service"`
	SourceProject    string          `json:"source_project,omitempty"`
	DestProject      string          `json:"dest_project,omitempty"`
	SourceEndpointID json.RawMessage `json:"source_endpoint_id,omitempty"`
	DestEndpointID   json.RawMessage `json:"dest_endpoint_id,omitempty"`
	UserConfig       json.RawMessage `json:"user_config,omitempty"`
}

func (req CreateIntegrationRequest) check(project string) error {
	problems := refuseSet([]setField{
		{"source_endpoint_id", req.SourceEndpointID, "osccr has no integration endpoints: name the source_service"},
		{"dest_endpoint_id", req.DestEndpointID, "osccr has no integration endpoints: name the dest_service"},
		{"user_config", req.UserConfig, "osccr's replication takes no user configuration"},
	})
	for _, p := range []struct{ field, value string }{{"source_project", req.SourceProject}, {"dest_project", req.DestProject}} {
		if p.value != "" && p.value != project {
			problems = append(problems, fmt.Errorf("%s %q: this control plane serves project %q only", p.field, p.value, project))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %w", errBadRequest, errors.Join(problems...))
	}
	return nil
}

// serviceType is the one service type's description: Aiven's client reads its
// user_config_schema (empty: osccr takes no user configuration) before creating a service.
func serviceType() map[string]any {
	var plans []map[string]any
	for _, p := range plan.Default().List() {
		plans = append(plans, map[string]any{"service_plan": p.Name, "service_type": ServiceTypeOpenSearch, "node_count": p.Nodes,
			"disk_space_mb": p.DiskGB * 1024, "memory_gb": p.MemoryGB, "cross_cluster_replication": p.SupportsCCR()})
	}
	return map[string]any{
		"description":        "OpenSearch with cross-cluster replication, run by osccr",
		"user_config_schema": map[string]any{"type": "object", "properties": map[string]any{}, "additionalProperties": false},
		"service_plans":      plans,
	}
}

func (s *server) listServiceTypes(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"service_types": map[string]any{ServiceTypeOpenSearch: serviceType()}})
	return nil
}

func (s *server) getServiceType(w http.ResponseWriter, r *http.Request) error {
	if t := r.PathValue("service_type"); t != ServiceTypeOpenSearch {
		return fmt.Errorf("%w: no service type %q: osccr runs %s only", control.ErrNotFound, t, ServiceTypeOpenSearch)
	}
	writeJSON(w, http.StatusOK, serviceType())
	return nil
}

// listVPCs answers that the project has no VPC: the Aiven client asks before creating a service
// in a named cloud.
func (s *server) listVPCs(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"vpcs": []any{}})
	return nil
}

// authToken returns the token of an Authorization header: "Bearer <token>", or
// "aivenv1 <token>" as the Aiven client sends it.
func authToken(header string) (string, bool) {
	for _, scheme := range []string{"Bearer ", "aivenv1 "} {
		if token, ok := strings.CutPrefix(header, scheme); ok {
			return token, true
		}
	}
	return "", false
}
