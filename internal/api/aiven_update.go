package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/osccr/osccr/internal/plan"
	"github.com/osccr/osccr/workflows"
)

// PutServiceRequest is Aiven's service update (PUT .../service/{service}). Aiven's clients send
// every field they know on every update, most of them unchanged (the Terraform provider sends
// cloud, plan, maintenance, project_vpc_id, powered, termination_protection, disk_space_mb,
// user_config and tech_emails each time), so each field is handled by putFields, the one table
// of what osccr does with it: a value equal to what osccr has passes, one osccr can apply is
// applied, and one it cannot is refused (400, naming the field) with nothing changed.
type PutServiceRequest struct {
	Plan                  string          `json:"plan,omitempty"`
	Cloud                 string          `json:"cloud,omitempty"`
	DiskSpaceMB           *int            `json:"disk_space_mb,omitempty"`
	Powered               *bool           `json:"powered,omitempty"`
	TerminationProtection *bool           `json:"termination_protection,omitempty"`
	Maintenance           json.RawMessage `json:"maintenance,omitempty"`
	ProjectVPCID          json.RawMessage `json:"project_vpc_id,omitempty"`
	UserConfig            json.RawMessage `json:"user_config,omitempty"`
	TechEmails            json.RawMessage `json:"tech_emails,omitempty"`
	CMKID                 json.RawMessage `json:"cmk_id,omitempty"`
	GroupName             json.RawMessage `json:"group_name,omitempty"`
	Karapace              json.RawMessage `json:"karapace,omitempty"`
	SchemaRegistryAuthz   json.RawMessage `json:"schema_registry_authz,omitempty"`
	DisasterRecoveryRole  json.RawMessage `json:"disaster_recovery_role,omitempty"`
}

// serviceUpdate is what an update asks osccr to change once every field passed.
type serviceUpdate struct {
	// plan is the plan to apply ("" for none).
	plan string
	// terminationProtection is the protection to set (nil for no change).
	terminationProtection *bool
}

// putField is one field of Aiven's service update: how osccr handles it (docs/terraform.md and
// the OpenAPI document say the same) and its check, which refuses a value osccr cannot honour
// or records the change to make.
type putField struct {
	name     string
	handling string
	check    func(req PutServiceRequest, st workflows.ServiceState, u *serviceUpdate) error
}

// putFields is every field of Aiven's service update, in the order the answer names problems.
var putFields = []putField{
	{"plan", "applied: the service moves to it and the answer comes once it has it (a leader's followers first); a follower takes only the plan its leader is moving to, waiting for its leader's change (control.ApplyPlan)",
		func(req PutServiceRequest, st workflows.ServiceState, u *serviceUpdate) error {
			if req.Plan == "" {
				return nil
			}
			if _, err := plan.Default().Lookup(req.Plan); err != nil {
				return fmt.Errorf("plan: %w", err)
			}
			if req.Plan != st.Plan || st.PlanTarget == req.Plan {
				u.plan = req.Plan
			}
			return nil
		}},
	{"cloud", "equal to the service's cloud passes; another is refused: a service cannot move",
		func(req PutServiceRequest, st workflows.ServiceState, _ *serviceUpdate) error {
			if req.Cloud != "" && req.Cloud != st.Cloud {
				return fmt.Errorf("cloud %q: a service cannot move; %s stays in %s (create a follower there and promote it)", req.Cloud, st.Name, st.Cloud)
			}
			return nil
		}},
	{"disk_space_mb", "0, or the service's disk on the plan asked for (that plan's disk plus the service's extra disk), passes; another is refused: osccr cannot resize a disk",
		func(req PutServiceRequest, st workflows.ServiceState, _ *serviceUpdate) error {
			if req.DiskSpaceMB == nil || *req.DiskSpaceMB == 0 {
				return nil
			}
			name := st.Plan
			if req.Plan != "" {
				name = req.Plan
			}
			p, err := plan.Default().Lookup(name)
			if err != nil {
				return nil // the plan's own check says so
			}
			if want := (p.DiskGB + st.ExtraDiskGB) * 1024; *req.DiskSpaceMB != want {
				return fmt.Errorf("disk_space_mb %d: osccr cannot resize a service's disk (%s has %d MB on plan %s: the plan's %d GB plus %d GB extra)",
					*req.DiskSpaceMB, st.Name, want, p.Name, p.DiskGB, st.ExtraDiskGB)
			}
			return nil
		}},
	{"powered", "true passes; false is refused: osccr cannot power a service off",
		func(req PutServiceRequest, st workflows.ServiceState, _ *serviceUpdate) error {
			if req.Powered != nil && !*req.Powered {
				return fmt.Errorf("powered false is not supported: osccr cannot power a service off; delete it (DELETE .../service/%s) to stop its nodes", st.Name)
			}
			return nil
		}},
	{"termination_protection", "applied: while true, a DELETE of the service is refused (409)",
		func(req PutServiceRequest, st workflows.ServiceState, u *serviceUpdate) error {
			if p := req.TerminationProtection; p != nil && *p != st.TerminationProtection {
				u.terminationProtection = p
			}
			return nil
		}},
	{"maintenance", `osccr's own window ({"dow":"never"}, what a service shows) passes; another is refused: osccr installs no updates on its own`,
		func(req PutServiceRequest, _ workflows.ServiceState, _ *serviceUpdate) error {
			if emptyJSON(req.Maintenance) {
				return nil
			}
			var m struct {
				Dow string `json:"dow"`
			}
			if json.Unmarshal(req.Maintenance, &m) == nil && m.Dow == "never" {
				return nil
			}
			return unsupported("maintenance", req.Maintenance, `osccr has no maintenance windows (a service's is {"dow":"never"}): leave it out`)
		}},
	{"project_vpc_id", "none passes (a service has none); a VPC is refused",
		func(req PutServiceRequest, _ workflows.ServiceState, _ *serviceUpdate) error {
			return unsupported("project_vpc_id", req.ProjectVPCID, "osccr runs no VPCs: a service answers at its endpoints")
		}},
	{"user_config", "empty passes (a service has none); any setting is refused",
		func(req PutServiceRequest, _ workflows.ServiceState, _ *serviceUpdate) error {
			return unsupported("user_config", req.UserConfig, "osccr takes no user configuration: its services run the OpenSearch settings osccr gives them")
		}},
	{"tech_emails", "none passes; an address is refused",
		func(req PutServiceRequest, _ workflows.ServiceState, _ *serviceUpdate) error {
			return unsupported("tech_emails", req.TechEmails, "osccr sends no technical emails")
		}},
	{"cmk_id", "none passes; a key is refused",
		func(req PutServiceRequest, _ workflows.ServiceState, _ *serviceUpdate) error {
			return unsupported("cmk_id", req.CMKID, "osccr has no customer managed keys")
		}},
	{"group_name", `"default" passes (a service's group_list); another is refused`,
		func(req PutServiceRequest, _ workflows.ServiceState, _ *serviceUpdate) error {
			if strings.TrimSpace(string(req.GroupName)) == `"default"` {
				return nil
			}
			return unsupported("group_name", req.GroupName, `osccr has one service group, "default"`)
		}},
	{"karapace", "false passes; true is refused (a Kafka feature)",
		func(req PutServiceRequest, _ workflows.ServiceState, _ *serviceUpdate) error {
			return unsupported("karapace", req.Karapace, "karapace is a Kafka feature")
		}},
	{"schema_registry_authz", "false passes; true is refused (a Kafka feature)",
		func(req PutServiceRequest, _ workflows.ServiceState, _ *serviceUpdate) error {
			return unsupported("schema_registry_authz", req.SchemaRegistryAuthz, "schema registries are a Kafka feature")
		}},
	{"disaster_recovery_role", "none passes; a role is refused: osccr's disaster recovery is a follower and its promotion",
		func(req PutServiceRequest, _ workflows.ServiceState, _ *serviceUpdate) error {
			return unsupported("disaster_recovery_role", req.DisasterRecoveryRole, "osccr's disaster recovery is a follower (integration) and its promotion (POST .../service/{service}/promote)")
		}},
}

// unsupported refuses a field osccr has no counterpart for unless it is empty (null, false, 0,
// "", {} or []: what a service shows, and what Aiven's clients send by default).
func unsupported(name string, raw json.RawMessage, why string) error {
	return errors.Join(refuseSet([]setField{{name, raw, why}})...)
}

// update checks every field of the request against the service st (putFields) and returns
// what to change; any field refused refuses the whole request (errBadRequest, naming each).
func (req PutServiceRequest) update(st workflows.ServiceState) (serviceUpdate, error) {
	var u serviceUpdate
	var problems []error
	for _, f := range putFields {
		if err := f.check(req, st, &u); err != nil {
			problems = append(problems, err)
		}
	}
	if len(problems) > 0 {
		return serviceUpdate{}, fmt.Errorf("%w: %w", errBadRequest, errors.Join(problems...))
	}
	return u, nil
}

func (s *server) replaceService(w http.ResponseWriter, r *http.Request) error {
	var req PutServiceRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	name := r.PathValue("service")
	st, err := s.ctl.GetService(r.Context(), name)
	if err != nil {
		return err
	}
	u, err := req.update(st)
	if err != nil {
		return err
	}
	// The plan first: refused (a follower's plan its leader does not move to) or still under
	// way, the termination protection is not changed yet, and the same request asked again
	// does both.
	var done []string
	if u.plan != "" {
		if st, err = s.ctl.ApplyPlan(r.Context(), name, u.plan); err != nil {
			return err
		}
		done = append(done, "plan "+u.plan+" applied")
	}
	if p := u.terminationProtection; p != nil {
		if st, err = s.ctl.SetTerminationProtection(r.Context(), name, *p); err != nil {
			return err
		}
		done = append(done, map[bool]string{true: "termination protection on: a delete of the service is refused until it is turned off", false: "termination protection off"}[*p])
	}
	message := "nothing to change"
	if len(done) > 0 {
		message = strings.Join(done, "; ")
	}
	writeJSON(w, http.StatusOK, map[string]any{"service": serviceView(st, nil), "message": message})
	return nil
}
