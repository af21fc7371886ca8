package testcontrol

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/workflows"
)

// RegisterRunning registers a service over an existing cluster and waits until it is RUNNING.
func (p Plane) RegisterRunning(t testing.TB, name, planName, httpURL, transportAddress string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.Control.RegisterService(ctx, control.RegisterServiceRequest{Name: name, Plan: planName, URL: httpURL, TransportAddress: transportAddress}); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	if _, err := p.Control.WaitService(ctx, name, nil); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
}

// Snapshot describes everything a refused request must leave as it was: every workflow
// execution Temporal knows (ID, run and status, closed ones too), and each live service's role,
// state, reason, plan, leader and followers as its workflow answers them.
func (p Plane) Snapshot(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var lines []string
	var token []byte
	for {
		resp, err := p.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{NextPageToken: token})
		if err != nil {
			t.Fatalf("snapshot: list workflows: %v", err)
		}
		for _, e := range resp.GetExecutions() {
			lines = append(lines, fmt.Sprintf("workflow %s run %s %s", e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId(), e.GetStatus()))
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	services, err := p.Control.ListServices(ctx, "")
	if err != nil {
		t.Fatalf("snapshot: list services: %v", err)
	}
	for _, s := range services {
		st, err := p.Control.GetService(ctx, s.Name)
		if err != nil {
			t.Fatalf("snapshot: service %s: %v", s.Name, err)
		}
		lines = append(lines, fmt.Sprintf("service %s role %s state %s (%s) plan %s leader %q followers %v", st.Name, st.Role, st.State, st.Reason, st.Plan, st.Leader, st.Followers))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// NoService fails the test if a workflow was ever started for a service of this name (the
// visibility store may lag; describing the workflow does not).
func (p Plane) NoService(t testing.TB, name string) {
	t.Helper()
	if name == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := p.Temporal.DescribeWorkflowExecution(ctx, workflows.ServiceWorkflowID(name), "")
	var notFound *serviceerror.NotFound
	if !errors.As(err, &notFound) {
		t.Errorf("a workflow for service %s exists (describe: %v): the refused request started it", name, err)
	}
}

// DeleteAndWait deletes a service and waits until its workflow has ended (its nodes stopped):
// a test's cleanup, registered right after the create so that a test that stops half-way
// leaves no node running. A service already gone is fine.
func DeleteAndWait(t *testing.T, ctl *control.Control, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ctl.DeleteService(ctx, name); err != nil {
		if !errors.Is(err, control.ErrNotFound) && !errors.Is(err, control.ErrConflict) {
			t.Errorf("clean up service %s: %v", name, err)
		}
	}
	if err := ctl.WaitServiceGone(ctx, name); err != nil {
		t.Errorf("clean up service %s: %v", name, err)
	}
}
