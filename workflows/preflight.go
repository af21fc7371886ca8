package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
)

// PreflightWorkflowID is the ID of the preflight of a replication into a follower: one at a
// time per follower (a second request while one runs joins it).
func PreflightWorkflowID(follower string) string { return "preflight/" + follower }

// PreflightWorkflow checks, on the real clusters, what a replication between them needs
// (activities.Preflight), before the follower is asked to follow. It changes nothing.
func PreflightWorkflow(ctx workflow.Context, in activities.PreflightInput) (activities.PreflightReport, error) {
	_ = readVersion(ctx, changePreflight, preflightVersion) // branch on it once the workflow changes
	var a *activities.Activities
	var report activities.PreflightReport
	err := workflow.ExecuteActivity(withIO(ctx, time.Minute, 0), a.Preflight, in).Get(ctx, &report)
	return report, err
}

// LocalFollowerPreflightWorkflow is the preflight of a local follower before it is provisioned
// (activities.PreflightLocalFollower): `follower create --dry-run`. It changes nothing.
func LocalFollowerPreflightWorkflow(ctx workflow.Context, in activities.LocalFollowerPreflightInput) (activities.PreflightReport, error) {
	_ = readVersion(ctx, changeLocalPreflight, localPreflightVersion) // branch on it once the workflow changes
	var a *activities.Activities
	var report activities.PreflightReport
	err := workflow.ExecuteActivity(withIO(ctx, time.Minute, 0), a.PreflightLocalFollower, in).Get(ctx, &report)
	return report, err
}
