// Package workflows holds osccr's deterministic orchestration: every long-running step of the
// control plane as a Temporal workflow. No I/O happens here; activities/ does that.
package workflows

import "go.temporal.io/sdk/worker"

// TaskQueue is the Temporal task queue the osccr worker polls.
const TaskQueue = "osccr"

// Register adds every osccr workflow to a worker.
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflow(IndexReplicationWorkflow)
	r.RegisterWorkflow(ServiceWorkflow)
	r.RegisterWorkflow(IntegrationWorkflow)
	r.RegisterWorkflow(VerifyWorkflow)
}
