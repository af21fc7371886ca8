package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/plan"
)

// Endpoints of the Aiven API that its Terraform provider calls around a service, beyond the
// service itself: a plan's specification (the default disk), the project's static IPs and a
// service's tags. osccr has no static IPs and keeps no tags: the answers say so in Aiven's
// shapes, and a write that would set any is refused naming the field.

// getServicePlan answers a plan's specification as Aiven's API does (its disk in MB, its
// nodes): the provider reads the plan's default disk to compute the disk it sends.
func (s *server) getServicePlan(w http.ResponseWriter, r *http.Request) error {
	if t := r.PathValue("service_type"); t != ServiceTypeOpenSearch {
		return fmt.Errorf("%w: no service type %q: osccr runs %s only", control.ErrNotFound, t, ServiceTypeOpenSearch)
	}
	p, err := plan.Default().Lookup(r.PathValue("plan"))
	if err != nil {
		return fmt.Errorf("%w: %w", control.ErrNotFound, err)
	}
	diskMB := p.DiskGB * 1024
	capMB := diskMB + control.MaxExtraDiskGB*1024
	writeJSON(w, http.StatusOK, map[string]any{
		"service_type": ServiceTypeOpenSearch, "service_plan": p.Name, "node_count": p.Nodes,
		"disk_space_mb": diskMB, "disk_space_step_mb": 1024, "disk_space_cap_mb": capMB,
		"backup_config": map[string]any{},
	})
	return nil
}

// listStaticIPs answers that the project has no static IP.
func (s *server) listStaticIPs(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"static_ips": []any{}})
	return nil
}

// ServiceTags is the body of a service's tags, in and out.
type ServiceTags struct {
	Tags map[string]string `json:"tags"`
}

// getServiceTags answers a known service's tags: none.
func (s *server) getServiceTags(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.ctl.GetService(r.Context(), r.PathValue("service")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ServiceTags{Tags: map[string]string{}})
	return nil
}

// replaceServiceTags accepts no tags (what the provider sends on every create and update when
// the configuration has none) and refuses any other, naming them.
func (s *server) replaceServiceTags(w http.ResponseWriter, r *http.Request) error {
	var req ServiceTags
	if err := decode(r, &req); err != nil {
		return err
	}
	name := r.PathValue("service")
	if len(req.Tags) > 0 {
		raw, _ := json.Marshal(req.Tags)
		return fmt.Errorf("%w: tags %s are not supported: osccr keeps no tags on a service; leave them out", control.ErrInvalid, raw)
	}
	if _, err := s.ctl.GetService(r.Context(), name); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "tags updated"})
	return nil
}
