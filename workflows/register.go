// Package workflows holds osccr's deterministic orchestration: every long-running step of the
// control plane as a Temporal workflow. No I/O happens here; activities/ does that.
package workflows

import (
	"time"

	"github.com/osccr/osccr/internal/contract"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TaskQueue is the Temporal task queue every osccr worker polls: the workflows, and the
// activities that any worker can run (those that talk to a cluster over HTTP).
const TaskQueue = "osccr"

// MachineTaskQueue is the task queue of one machine's worker: the activities bound to the local
// nodes it runs (provision, recycle, plan change, deprovision) go there, so they always reach
// the machine that holds the nodes, however many workers share the Temporal cluster.
func MachineTaskQueue(machine string) string { return TaskQueue + "/machine/" + machine }

// onMachine routes an activity bound to a service's nodes to the task queue of the machine that
// runs them; a service that was never placed (static, or created before placement) stays on the
// shared queue.
//
// Work put there waits at most MachineQueueBound for the machine's worker to take it, then
// fails naming the machine (failureReason): a machine that is gone must not hold a service in
// PROVISIONING or DELETING for ever.
func onMachine(ctx workflow.Context, spec contract.ServiceSpec) workflow.Context {
	if spec.Backend != contract.BackendLocal || spec.Machine == "" {
		return ctx
	}
	opts := workflow.GetActivityOptions(ctx)
	opts.TaskQueue = MachineTaskQueue(spec.Machine)
	opts.ScheduleToStartTimeout = MachineQueueBound
	return workflow.WithActivityOptions(ctx, opts)
}

// MachineQueueBound is how long work on a machine's task queue waits for that machine's worker:
// enough for a worker restart (or a deploy), not for a machine that is gone.
const MachineQueueBound = 5 * time.Minute

// Register adds every osccr workflow to a worker.
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflow(IndexReplicationWorkflow)
	r.RegisterWorkflow(ServiceWorkflow)
	r.RegisterWorkflow(IntegrationWorkflow)
	r.RegisterWorkflow(VerifyWorkflow)
	r.RegisterWorkflow(PreflightWorkflow)
	r.RegisterWorkflow(LocalFollowerPreflightWorkflow)
	r.RegisterWorkflow(CheckSecretRefsWorkflow)
}
