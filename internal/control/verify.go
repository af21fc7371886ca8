package control

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/workflows"
)

// VerifyFollower compares a follower with its leader, index by index: document counts, a
// digest of the set of document ids, and mappings. An index that differs gets a short while
// to catch up before it counts as diverged (a follower under writes trails by a moment; a
// PAUSED one does not catch up, so what differs then is reported at once). It
// changes nothing. Refused with ErrConflict for a service that is not a follower, or one that
// is not RUNNING or PAUSED (a follower still rebuilding differs by design). The report's
// Diverged counts the indexes that differ; its Configuration compares the configuration osccr
// copies kind by kind, and ConfigLacking counts what a failover now would lack of it.
func (c *Control) VerifyFollower(ctx context.Context, name string) (contract.VerifyReport, error) {
	st, err := c.follower(ctx, name, "verify")
	if err != nil {
		return contract.VerifyReport{}, err
	}
	if st.State != workflows.StateRunning && st.State != workflows.StatePaused {
		return contract.VerifyReport{}, fmt.Errorf("%w: cannot verify %s: it is %s; a follower is verified once it is RUNNING (or PAUSED)", ErrConflict, name, st.State)
	}
	leader, err := c.GetService(ctx, st.Leader)
	if err != nil {
		return contract.VerifyReport{}, err
	}
	in := contract.VerifyInput{Leader: leader.ClusterRef(), Follower: st.ClusterRef()}
	if st.State == workflows.StatePaused {
		in.Settle = -1 // a paused follower does not catch up: what differs now is the answer
	}
	id := workflows.VerifyWorkflowID(name)
	run, err := c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: c.TaskQueue,
		// A verification already running is joined, not run twice.
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, workflows.VerifyWorkflow, in)
	if err != nil {
		return contract.VerifyReport{}, wrapTemporal("verify "+name, err)
	}
	var report contract.VerifyReport
	if err := run.Get(ctx, &report); err != nil {
		return contract.VerifyReport{}, wrapTemporal("verify "+name, err)
	}
	return report, nil
}

// Preflight checks, on the real clusters, what a replication from leader into follower needs
// (activities.Preflight: credentials, versions, plugins, security modes, the follower's roles
// and its reach to the leader's transport port, soft deletes), changing nothing.
func (c *Control) Preflight(ctx context.Context, leader, follower workflows.ServiceState) (contract.PreflightReport, error) {
	in := contract.PreflightInput{Leader: leader.ClusterRef(), Follower: follower.ClusterRef()}
	return c.preflight(ctx, follower.Name, workflows.PreflightWorkflow, in)
}

// preflight runs a preflight workflow (one at a time per follower) and returns its report.
func (c *Control) preflight(ctx context.Context, follower string, workflow, in any) (contract.PreflightReport, error) {
	run, err := c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.PreflightWorkflowID(follower),
		TaskQueue:                c.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, workflow, in)
	if err != nil {
		return contract.PreflightReport{}, wrapTemporal("preflight of "+follower, err)
	}
	var report contract.PreflightReport
	if err := run.Get(ctx, &report); err != nil {
		return contract.PreflightReport{}, wrapTemporal("preflight of "+follower, err)
	}
	return report, nil
}
