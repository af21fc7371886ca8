package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
)

// PreflightWorkflowID is the ID of the preflight of a replication into a follower: one at a
// time per follower (a second request while one runs joins it).
func PreflightWorkflowID(follower string) string { return "preflight/" + follower }

// PreflightWorkflow checks, on the real clusters, what a replication between them needs
// (activities.Preflight), before the follower is asked to follow. It changes nothing.
func PreflightWorkflow(ctx workflow.Context, in contract.PreflightInput) (contract.PreflightReport, error) {
	_ = readVersion(ctx, changePreflight, preflightVersion) // branch on it once the workflow changes
	var a *activities.Activities
	var report contract.PreflightReport
	err := workflow.ExecuteActivity(withIO(ctx, time.Minute, 0), a.Preflight, in).Get(ctx, &report)
	return report, err
}

// LocalFollowerPreflightWorkflow is the preflight of a local follower before it is provisioned
// (activities.PreflightLocalFollower): `follower create --dry-run`. It changes nothing.
func LocalFollowerPreflightWorkflow(ctx workflow.Context, in contract.LocalFollowerPreflightInput) (contract.PreflightReport, error) {
	_ = readVersion(ctx, changeLocalPreflight, localPreflightVersion) // branch on it once the workflow changes
	var a *activities.Activities
	var report contract.PreflightReport
	err := workflow.ExecuteActivity(withIO(ctx, time.Minute, 0), a.PreflightLocalFollower, in).Get(ctx, &report)
	return report, err
}

// SecretRefsWorkflowID is the ID of the check of a registration's secret references.
func SecretRefsWorkflowID(service string) string { return "secret-refs/" + service }

// CheckSecretRefsWorkflow asks a worker whether its SecretPolicy accepts a registration's secret
// references (activities.CheckSecretRefs), before the service's workflow starts. It reads no
// secret and changes nothing.
func CheckSecretRefsWorkflow(ctx workflow.Context, auth contract.ClusterAuth) error {
	_ = readVersion(ctx, changeSecretRefs, secretRefsVersion) // branch on it once the workflow changes
	var a *activities.Activities
	return workflow.ExecuteActivity(withIO(ctx, 30*time.Second, 0), a.CheckSecretRefs, auth).Get(ctx, nil)
}
