package api

import (
	"net/http"

	"github.com/osccr/osccr/internal/control"
)

// CreateServiceRequest creates a service on the local backend, or registers an existing
// cluster when URL and TransportAddress are given.
type CreateServiceRequest struct {
	ServiceName      string `json:"service_name"`
	Plan             string `json:"plan"`
	Cloud            string `json:"cloud,omitempty"`
	Region           string `json:"region,omitempty"`
	ExtraDiskGB      int    `json:"extra_disk_gb,omitempty"`
	URL              string `json:"url,omitempty"`
	TransportAddress string `json:"transport_address,omitempty"`
}

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
	writeJSON(w, http.StatusOK, map[string]any{"services": services})
	return nil
}

func (s *server) createService(w http.ResponseWriter, r *http.Request) error {
	var req CreateServiceRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	var err error
	if req.URL != "" || req.TransportAddress != "" {
		err = s.ctl.RegisterService(r.Context(), control.RegisterServiceRequest{Name: req.ServiceName, URL: req.URL, TransportAddress: req.TransportAddress, Plan: req.Plan, Cloud: req.Cloud, Region: req.Region})
	} else {
		err = s.ctl.CreateService(r.Context(), control.CreateServiceRequest{Name: req.ServiceName, Plan: req.Plan, Cloud: req.Cloud, Region: req.Region, ExtraDiskGB: req.ExtraDiskGB})
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, Accepted{Service: req.ServiceName, State: "PROVISIONING", Message: "GET the service to follow its state"})
	return nil
}

func (s *server) getService(w http.ResponseWriter, r *http.Request) error {
	st, err := s.ctl.GetService(r.Context(), r.PathValue("service"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *server) deleteService(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("service")
	if err := s.ctl.DeleteService(r.Context(), name); err != nil {
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

func (s *server) createFollower(w http.ResponseWriter, r *http.Request) error {
	var req CreateFollowerRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := s.ctl.CreateFollower(r.Context(), control.CreateFollowerRequest{
		Leader: r.PathValue("service"), Name: req.ServiceName, Plan: req.Plan, Cloud: req.Cloud, Region: req.Region, ExtraDiskGB: req.ExtraDiskGB,
	}); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, Accepted{Service: req.ServiceName, State: "PROVISIONING", Message: "GET the follower to follow PROVISIONING, REBUILDING, RUNNING"})
	return nil
}

func (s *server) promote(w http.ResponseWriter, r *http.Request) error {
	report, err := s.ctl.Promote(r.Context(), r.PathValue("service"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, report)
	return nil
}
