package provision_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/provision"
	"github.com/osccr/osccr/internal/testcluster"
)

// TestStatic attaches a real, separately started OpenSearch node through the static backend.
func TestStatic(t *testing.T) {
	dist := testcluster.Distribution(t)
	node := testcluster.Start(t, dist, testcluster.Dir(t), "existing")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	s := provision.NewStatic()
	if err := s.Register("existing", node.HTTPURL(), node.TransportAddress()); err != nil {
		t.Fatalf("Register: %v", err)
	}
	spec := provision.Spec{Service: "existing", Plan: lookup(t, "business-4")}

	e, err := s.Provision(ctx, spec)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if e.HTTPURL != node.HTTPURL() || e.TransportAddress != node.TransportAddress() || e.PlannedNodes != 3 ||
		len(e.Nodes) != 1 || e.Nodes[0].Name != node.Name || e.Nodes[0].TransportAddress != node.TransportAddress() {
		t.Fatalf("Provision = %+v, want the registered node %s at %s / %s", e, node.Name, node.HTTPURL(), node.TransportAddress())
	}
	requireHealthy(t, s, "existing")

	err = s.RecycleNode(ctx, "existing", "")
	if !errors.Is(err, provision.ErrUnsupported) || !strings.Contains(err.Error(), "restart the node yourself") {
		t.Errorf("RecycleNode = %v, want ErrUnsupported telling the operator to restart it", err)
	}

	bigger := spec
	bigger.Plan = lookup(t, "business-8")
	if err := s.ChangePlan(ctx, bigger); err != nil {
		t.Errorf("ChangePlan of a registered cluster = %v, want nil (osccr does not size it)", err)
	}
	requireHealthy(t, s, "existing")

	if _, err := s.Provision(ctx, provision.Spec{Service: "unregistered", Plan: spec.Plan}); !errors.Is(err, provision.ErrUnknownService) {
		t.Errorf("Provision of an unregistered service = %v, want ErrUnknownService", err)
	}

	// A registered cluster that does not answer.
	port, err := localnode.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := s.Register("gone", dead, "127.0.0.1:"+strconv.Itoa(port)); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if _, err := s.Provision(ctx, provision.Spec{Service: "gone", Plan: spec.Plan}); !errors.Is(err, provision.ErrUnreachable) {
		t.Errorf("Provision of a dead cluster = %v, want ErrUnreachable", err)
	}
	h, err := s.Health(ctx, "gone")
	if err != nil || h.Status != provision.StatusUnreachable || h.Reason == "" || h.Healthy() {
		t.Errorf("Health of a dead cluster = %+v, %v; want unreachable with a reason", h, err)
	}

	// Deprovision forgets the service and leaves its cluster running.
	if err := s.Deprovision(ctx, "existing"); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	if _, err := s.Provision(ctx, spec); !errors.Is(err, provision.ErrUnknownService) {
		t.Errorf("Provision after Deprovision = %v, want ErrUnknownService", err)
	}
	if !node.Running() {
		t.Error("Deprovision stopped a cluster osccr does not run")
	}
	if err := s.Deprovision(ctx, "existing"); err != nil {
		t.Errorf("second Deprovision = %v, want nil", err)
	}
}
