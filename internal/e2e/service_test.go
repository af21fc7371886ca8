package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/internal/testcontrol"
	"github.com/osccr/osccr/internal/workerapp"
	"github.com/osccr/osccr/workflows"
)

// TestServices creates a service on the local backend (a real node), registers an existing
// cluster (the static backend), lists and shows them, checks every refusal changes nothing, and
// deletes the local service, whose node must then be gone.
//
// Two workers share the Temporal: the control plane's own, and a second osccr-worker process
// with its own machine name and state directory. The local service is pinned to the second
// machine: its nodes live under that worker's state directory, and every activity bound to
// them runs on that machine's task queue, started by that process.
func TestServices(t *testing.T) {
	d := testcluster.Distribution(t)
	base := testcluster.Dir(t)
	existing := testcluster.Start(t, d, base, "existing")

	plane := testcontrol.Start(t, base)
	ctl := plane.Control
	machineB := startWorkerProcess(t, plane.Endpoint, "machine-b", filepath.Join(base, "machine-b"))
	awaitPoller(t, plane.Temporal, machineB)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	began := time.Now()
	if err := ctl.CreateService(ctx, control.CreateServiceRequest{Name: "svc-local", Plan: "business-4", Region: "eu-local", Machine: machineB.Machine, Security: control.SecurityNone}); err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "svc-local") })
	local, err := ctl.WaitService(ctx, "svc-local", nil)
	if err != nil {
		t.Fatalf("wait RUNNING: %v", err)
	}
	t.Logf("local service RUNNING after %s at %s", time.Since(began).Round(time.Millisecond), local.Endpoints.HTTPURL)
	if local.Role != workflows.RoleStandalone || local.Plan != "business-4" || local.Region != "eu-local" || local.Endpoints.PlannedNodes != 3 {
		t.Errorf("service %+v: want a standalone business-4 service in eu-local planned with 3 nodes", local)
	}
	if local.Machine != machineB.Machine {
		t.Errorf("service placed on machine %q, want %q", local.Machine, machineB.Machine)
	}
	if _, err := os.Stat(filepath.Join(machineB.StateDir, "services", "svc-local")); err != nil {
		t.Errorf("the service's nodes are not under machine %s's state directory: %v", machineB.Machine, err)
	}
	if _, err := os.Stat(filepath.Join(base, "services", "svc-local")); err == nil {
		t.Errorf("the service's nodes are (also) under the first worker's state directory")
	}
	lc, err := opensearch.New(opensearch.Config{URLs: []string{local.Endpoints.HTTPURL}})
	if err != nil {
		t.Fatal(err)
	}
	if info, err := lc.Info(ctx); err != nil || info.ClusterName != "svc-local" {
		t.Fatalf("the service's endpoint answers %+v, %v; want cluster svc-local", info, err)
	}

	if err := ctl.RegisterService(ctx, control.RegisterServiceRequest{Name: "svc-static", URL: existing.HTTPURL(), TransportAddress: existing.TransportAddress(), Plan: "business-4"}); err != nil {
		t.Fatalf("register: %v", err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "svc-static") })
	static, err := ctl.WaitService(ctx, "svc-static", nil)
	if err != nil || static.Endpoints.TransportAddress != existing.TransportAddress() {
		t.Fatalf("static service %+v, %v; want RUNNING at %s", static, err, existing.TransportAddress())
	}

	eventually(t, 30*time.Second, "both services listed", func() (bool, string) {
		all, err := ctl.ListServices(ctx, "")
		want := []control.ServiceSummary{
			{Name: "svc-local", Plan: "business-4", Role: workflows.RoleStandalone, State: workflows.StateRunning},
			{Name: "svc-static", Plan: "business-4", Role: workflows.RoleStandalone, State: workflows.StateRunning},
		}
		return err == nil && slices.Equal(all, want), fmt.Sprintf("%+v %v", all, err)
	})
	if leaders, err := ctl.ListServices(ctx, workflows.RoleLeader); err != nil || len(leaders) != 0 {
		t.Errorf("leaders = %+v, %v; want none", leaders, err)
	}

	refusals := []struct {
		name string
		do   func() error
		want error
		msg  string
	}{
		{"name taken", func() error {
			return ctl.CreateService(ctx, control.CreateServiceRequest{Name: "svc-local", Plan: "business-4", Security: control.SecurityNone})
		}, control.ErrConflict, `service name "svc-local" is taken`},
		{"invalid name", func() error {
			return ctl.CreateService(ctx, control.CreateServiceRequest{Name: "Bad_Name", Plan: "business-4", Security: control.SecurityNone})
		}, control.ErrInvalid, "Bad_Name"},
		{"unknown plan", func() error {
			return ctl.CreateService(ctx, control.CreateServiceRequest{Name: "svc-x", Plan: "gold", Security: control.SecurityNone})
		}, control.ErrInvalid, "business-4"},
		{"unknown machine", func() error {
			return ctl.CreateService(ctx, control.CreateServiceRequest{Name: "svc-x", Plan: "business-4", Machine: "machine-z", Security: control.SecurityNone})
		}, control.ErrInvalid, "no worker polls"},
		{"negative disk", func() error {
			return ctl.CreateService(ctx, control.CreateServiceRequest{Name: "svc-x", Plan: "business-4", ExtraDiskGB: -1, Security: control.SecurityNone})
		}, control.ErrInvalid, "negative"},
		{"bad transport", func() error {
			return ctl.RegisterService(ctx, control.RegisterServiceRequest{Name: "svc-x", URL: existing.HTTPURL(), TransportAddress: "nowhere", Plan: "business-4"})
		}, control.ErrInvalid, "host:port"},
		{"bad url", func() error {
			return ctl.RegisterService(ctx, control.RegisterServiceRequest{Name: "svc-x", URL: "ftp://x", TransportAddress: "127.0.0.1:9300", Plan: "business-4"})
		}, control.ErrInvalid, "--url"},
		{"bad role", func() error { _, err := ctl.ListServices(ctx, "boss"); return err }, control.ErrInvalid, "leader, follower or standalone"},
		{"delete unknown", func() error { return ctl.DeleteService(ctx, "svc-none") }, control.ErrNotFound, "no service svc-none"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			err := r.do()
			if !errors.Is(err, r.want) || !strings.Contains(err.Error(), r.msg) {
				t.Fatalf("error %v, want %v mentioning %q", err, r.want, r.msg)
			}
		})
	}
	if _, err := ctl.GetService(ctx, "svc-x"); !errors.Is(err, control.ErrNotFound) {
		t.Errorf("a refused service exists: %v", err)
	}

	began = time.Now()
	if err := ctl.DeleteService(ctx, "svc-local"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := ctl.WaitServiceGone(ctx, "svc-local"); err != nil {
		t.Fatalf("wait deleted: %v", err)
	}
	t.Logf("local service deleted in %s", time.Since(began).Round(time.Millisecond))
	if _, err := http.Get(local.Endpoints.HTTPURL); err == nil {
		t.Error("the deleted service's node still answers")
	}
	if _, err := ctl.GetService(ctx, "svc-local"); !errors.Is(err, control.ErrNotFound) {
		t.Errorf("GetService after delete: %v, want ErrNotFound", err)
	}
	queues := activityQueues(t, plane.Temporal, workflows.ServiceWorkflowID("svc-local"))
	checkOnMachine(t, queues, machineB, "ProvisionService", "DeprovisionService")
	if _, placed := queues["PlaceService"]; placed {
		t.Errorf("a service pinned to a machine was placed again: %v", queues["PlaceService"])
	}
	if _, err := os.Stat(filepath.Join(machineB.StateDir, "services", "svc-local")); !os.IsNotExist(err) {
		t.Errorf("the deleted service's nodes are still under machine %s's state directory: %v", machineB.Machine, err)
	}

	// Not pinned: the first free worker places it on its machine.
	if err := ctl.CreateService(ctx, control.CreateServiceRequest{Name: "svc-local", Plan: "business-4", Security: control.SecurityNone}); err != nil {
		t.Errorf("the name of a deleted service cannot be used again: %v", err)
	} else if st, err := ctl.WaitService(ctx, "svc-local", nil); err != nil {
		t.Errorf("recreated service: %v", err)
	} else if st.Machine != machineB.Machine && st.Machine != workerapp.DefaultMachine() {
		t.Errorf("recreated service placed on %q, want one of the two workers' machines", st.Machine)
	}
}
