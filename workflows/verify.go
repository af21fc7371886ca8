package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
)

// VerifyWorkflowID is the ID of a follower's verification: one at a time per follower (a
// second request while one runs joins it).
func VerifyWorkflowID(follower string) string { return "verify/" + follower }

// VerifyWorkflow compares a follower with its leader, index by index (document counts, a digest
// of the document ids, mappings), and returns the report. It only reads, so it runs beside the
// follower's own workflows without touching them.
func VerifyWorkflow(ctx workflow.Context, in contract.VerifyInput) (contract.VerifyReport, error) {
	_ = readVersion(ctx, changeVerify, verifyVersion) // branch on it once the workflow changes
	var a *activities.Activities
	var report contract.VerifyReport
	// Reading every document id of a large index takes a while; the activity heartbeats after
	// each index and every second while an index settles.
	ctx = withIO(ctx, 30*time.Minute, 2*time.Minute)
	err := workflow.ExecuteActivity(ctx, a.VerifyFollower, in).Get(ctx, &report)
	return report, err
}
