package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/osccr/osccr/internal/access"
	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/workflows"
)

// CreateFollowerRequest creates a follower of the service in the path.
type CreateFollowerRequest struct {
	ServiceName string `json:"service_name"`
	Plan        string `json:"plan,omitempty"`
	Cloud       string `json:"cloud,omitempty"`
	Region      string `json:"region,omitempty"`
	ExtraDiskGB int    `json:"extra_disk_gb,omitempty"`
}

// RecycleNodeRequest names the node to recycle; empty means the first.
type RecycleNodeRequest struct {
	Node string `json:"node,omitempty"`
}

// Accepted answers a request whose work goes on in a workflow.
type Accepted struct {
	Service string `json:"service"`
	State   string `json:"state"`
	Message string `json:"message"`
}

func (s *server) listServices(w http.ResponseWriter, r *http.Request) error {
	services, err := s.ctl.ListServices(r.Context(), r.URL.Query().Get("role"))
	if err != nil {
		return err
	}
	out := make([]ServiceListItem, 0, len(services))
	for _, sv := range services {
		out = append(out, ServiceListItem{ServiceName: sv.Name, ServiceType: ServiceTypeOpenSearch, State: AivenState(sv.State), OsccrState: sv.State, ServiceSummary: sv})
	}
	writeJSON(w, http.StatusOK, map[string]any{"services": out})
	return nil
}

func (s *server) createService(w http.ResponseWriter, r *http.Request) error {
	var req CreateServiceRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	c, err := req.creation(s.cfg.Project)
	if err != nil {
		return err
	}
	if c.register != nil {
		if err := requireRole(r, access.RoleAdmin, "registering a cluster (url, transport_address)"); err != nil {
			return err
		}
	}
	// The service's workflow has only just started: the answer is what was asked for.
	st := workflows.ServiceState{State: workflows.StateProvisioning, Role: workflows.RoleStandalone}
	message := "GET the service to follow its state: PROVISIONING, then RUNNING"
	switch {
	case c.follower != nil:
		err = s.ctl.CreateFollower(r.Context(), *c.follower)
		st.ServiceSpec = contract.ServiceSpec{Name: req.ServiceName, Plan: req.Plan, Cloud: req.Cloud, Region: req.Region, ExtraDiskGB: c.follower.ExtraDiskGB, Backend: contract.BackendLocal}
		st.Role, st.Leader = workflows.RoleFollower, c.follower.Leader
		message = "GET the follower to follow PROVISIONING, REBUILDING, RUNNING"
	case c.register != nil:
		err = s.ctl.RegisterService(r.Context(), *c.register)
		st.ServiceSpec = contract.ServiceSpec{Name: req.ServiceName, Plan: req.Plan, Cloud: req.Cloud, Region: req.Region, Backend: contract.BackendStatic, URL: req.URL, TransportAddress: req.TransportAddress}
	default:
		err = s.ctl.CreateService(r.Context(), *c.create)
		st.ServiceSpec = contract.ServiceSpec{Name: req.ServiceName, Plan: req.Plan, Cloud: req.Cloud, Region: req.Region, ExtraDiskGB: c.create.ExtraDiskGB, Backend: contract.BackendLocal}
	}
	if err != nil {
		return err
	}
	st.TerminationProtection = req.TerminationProtection
	writeJSON(w, http.StatusAccepted, map[string]any{"service": serviceView(st, nil), "message": message})
	return nil
}

// getService answers everything osccr knows of one service, with its integrations and, as the
// Aiven API does, its connection details (service_uri): asking for one service is the request
// to reveal them. A registered cluster's password is never in them (its reference names a file
// of the worker's machine, which no answer may read out); a local service's generated one only
// for an admin's token.
func (s *server) getService(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("service")
	st, err := s.ctl.GetService(r.Context(), name)
	if err != nil {
		return err
	}
	integrations, err := s.ctl.ListIntegrations(r.Context(), name)
	if err != nil {
		return err
	}
	v := serviceView(st, s.serviceIntegrations(integrations))
	v.revealConnection(connectionUser(st, identity(r).Allows(access.RoleAdmin)))
	writeJSON(w, http.StatusOK, map[string]any{"service": v})
	return nil
}

// connectionUser is the user (and, for an admin asking about a local service whose generated
// password this process can read, the password) a GET of one service reveals; nil for a
// service reached without credentials.
func connectionUser(st workflows.ServiceState, admin bool) *url.Userinfo {
	ref := st.ClusterRef()
	if ref.Username == "" {
		return nil
	}
	if !admin || st.Backend != contract.BackendLocal {
		return url.User(ref.Username)
	}
	creds, err := control.CredentialsOf(st)
	if err != nil || creds.Password == "" {
		return url.User(ref.Username)
	}
	return url.UserPassword(creds.Username, creds.Password)
}

func (s *server) deleteService(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("service")
	del := s.ctl.DeleteService
	if r.URL.Query().Get("force") == "true" { // ends a service whose machine or cluster is gone
		del = s.ctl.ForceDeleteService
	}
	if err := del(r.Context(), name); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, Accepted{Service: name, State: "DELETING", Message: "the service's workflow removes what osccr runs and ends"})
	return nil
}

func (s *server) recycleNode(w http.ResponseWriter, r *http.Request) error {
	var req RecycleNodeRequest
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			return err
		}
	}
	name := r.PathValue("service")
	if err := s.ctl.RecycleNode(r.Context(), name, req.Node, false); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, Accepted{Service: name, State: "RUNNING", Message: "node recycle started; affected followers are PAUSED until the service is healthy"})
	return nil
}

func (s *server) listFollowers(w http.ResponseWriter, r *http.Request) error {
	followers, err := s.ctl.ListFollowers(r.Context(), r.PathValue("service"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"followers": followers})
	return nil
}

// createFollower creates a follower of the path's service, or with ?dry_run=true answers the
// preflight's report of the follower it would create.
func (s *server) createFollower(w http.ResponseWriter, r *http.Request) error {
	var req CreateFollowerRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	dryRun, err := boolParam(r, "dry_run")
	if err != nil {
		return err
	}
	freq := control.CreateFollowerRequest{
		Leader: r.PathValue("service"), Name: req.ServiceName, Plan: req.Plan, Cloud: req.Cloud, Region: req.Region, ExtraDiskGB: req.ExtraDiskGB,
	}
	if dryRun {
		// The request's checks, then the preflight's report; nothing is created.
		report, err := s.ctl.PreviewFollower(r.Context(), freq)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, report)
		return nil
	}
	if err := s.ctl.CreateFollower(r.Context(), freq); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, Accepted{Service: req.ServiceName, State: "PROVISIONING", Message: "GET the follower to follow PROVISIONING, REBUILDING, RUNNING"})
	return nil
}

// promote promotes a follower, or with ?dry_run=true says what promoting it would do.
func (s *server) promote(w http.ResponseWriter, r *http.Request) error {
	dryRun, err := boolParam(r, "dry_run")
	if err != nil {
		return err
	}
	name := r.PathValue("service")
	if dryRun {
		preview, err := s.ctl.PreviewPromotion(r.Context(), name)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, preview)
		return nil
	}
	report, err := s.ctl.Promote(r.Context(), name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, report)
	return nil
}

// UpdateServiceRequest changes a service (PATCH, osccr's own); the plan is what can change.
type UpdateServiceRequest struct {
	Plan string `json:"plan"`
}

func (s *server) updateService(w http.ResponseWriter, r *http.Request) error {
	var req UpdateServiceRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	name := r.PathValue("service")
	if _, err := s.ctl.UpdatePlan(r.Context(), name, req.Plan, false); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, Accepted{Service: name, State: "RUNNING",
		Message: "plan change to " + req.Plan + " started (followers first, nodes restart one at a time): GET the service, its plan shows " + req.Plan + " once applied"})
	return nil
}

func (s *server) followerStatus(w http.ResponseWriter, r *http.Request) error {
	status, err := s.ctl.FollowerStatus(r.Context(), r.PathValue("service"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, status)
	return nil
}

// serviceEvents answers a service's timeline ({"events": [...]}, oldest first); ?limit=N asks
// for the newest N.
func (s *server) serviceEvents(w http.ResponseWriter, r *http.Request) error {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%w: limit %q is not a number: ask for 1 to 5000 events", control.ErrInvalid, v)
		}
		limit = n
	}
	events, err := s.ctl.ServiceEvents(r.Context(), r.PathValue("service"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": events})
	return nil
}

func (s *server) verifyFollower(w http.ResponseWriter, r *http.Request) error {
	report, err := s.ctl.VerifyFollower(r.Context(), r.PathValue("service"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, report)
	return nil
}

// PauseRequest says why the operator pauses replication.
type PauseRequest struct {
	Reason string `json:"reason,omitempty"`
}

func (s *server) pauseFollower(w http.ResponseWriter, r *http.Request) error {
	var req PauseRequest
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			return err
		}
	}
	name := r.PathValue("service")
	if err := s.ctl.PauseFollower(r.Context(), name, req.Reason); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, Accepted{Service: name, State: "PAUSED", Message: "every follower index pauses; the leader keeps every operation for the resume"})
	return nil
}

func (s *server) resumeFollower(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("service")
	if err := s.ctl.ResumeFollower(r.Context(), name); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, Accepted{Service: name, State: "RUNNING", Message: "the operator's pause is lifted; replication resumes and catches up once no other pause holds"})
	return nil
}

// createIntegration makes dest the follower of source, or with ?dry_run=true answers the
// preflight's report on the two clusters.
func (s *server) createIntegration(w http.ResponseWriter, r *http.Request) error {
	var req CreateIntegrationRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := req.check(s.cfg.Project); err != nil {
		return err
	}
	dryRun, err := boolParam(r, "dry_run")
	if err != nil {
		return err
	}
	ireq := control.CreateIntegrationRequest{Type: req.IntegrationType, Source: req.SourceService, Dest: req.DestService}
	if dryRun {
		// The preflight's report, every check with what it found; nothing changes.
		report, err := s.ctl.PreviewIntegration(r.Context(), ireq)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, report)
		return nil
	}
	in, err := s.ctl.CreateIntegration(r.Context(), ireq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"service_integration": s.serviceIntegration(in)})
	return nil
}

func (s *server) listIntegrations(w http.ResponseWriter, r *http.Request) error {
	return s.writeIntegrations(w, r, "")
}

func (s *server) listServiceIntegrations(w http.ResponseWriter, r *http.Request) error {
	return s.writeIntegrations(w, r, r.PathValue("service"))
}

func (s *server) writeIntegrations(w http.ResponseWriter, r *http.Request, service string) error {
	list, err := s.ctl.ListIntegrations(r.Context(), service)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"service_integrations": s.serviceIntegrations(list)})
	return nil
}

func (s *server) getIntegration(w http.ResponseWriter, r *http.Request) error {
	in, err := s.ctl.GetIntegration(r.Context(), r.PathValue("integration"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"service_integration": s.serviceIntegration(in)})
	return nil
}

// IntegrationDeleted answers the delete of a CCR integration: its follower was promoted.
type IntegrationDeleted struct {
	Message   string                    `json:"message"`
	Promotion workflows.PromotionReport `json:"promotion"`
}

// deleteIntegration ends a CCR integration by promoting its follower (as Aiven's API does); it
// answers once the promotion is done, with its report. One still under way after the
// application layer's wait is a 503 the Aiven client retries; a second delete is a 404.
func (s *server) deleteIntegration(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("integration")
	report, err := s.ctl.DeleteIntegration(r.Context(), id)
	if err != nil {
		return err
	}
	_, follower, _ := control.ParseIntegrationID(id)
	writeJSON(w, http.StatusOK, IntegrationDeleted{
		Message:   fmt.Sprintf("integration %s deleted: %s was promoted to a standalone, writable service (it followed %s)", id, follower, report.FormerLeader),
		Promotion: report,
	})
	return nil
}

// boolParam reads an optional boolean query parameter.
func boolParam(r *http.Request, name string) (bool, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(raw)
	if err != nil {
		return false, fmt.Errorf("%w: query parameter %s=%q: use true or false", errBadRequest, name, raw)
	}
	return v, nil
}
