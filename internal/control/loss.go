package control

import (
	"context"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/workflows"
)

// promotionLoss reads what a promotion lost from the integration's history: the statuses its
// stop read of every follower index (activities.ReplicationStatus: the follower's checkpoints
// read then, the leader's read then or, when it did not answer, as last known), just before
// the indexes stopped. Reading the history adds nothing to it. Nil when the history has no
// such statuses (an integration that had not started any index, or whose history is gone).
func (c *Control) promotionLoss(ctx context.Context, leader, follower string, stoppedAt time.Time) (*workflows.PromotionLoss, error) {
	id := workflows.IntegrationWorkflowID(leader, follower)
	it := c.Temporal.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var statuses map[string]contract.IndexStatus
	scheduled := map[int64]bool{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, wrapTemporal("history of "+id, err)
		}
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			if ev.GetWorkflowExecutionSignaledEventAttributes().GetSignalName() == workflows.SignalStopIntegration {
				statuses = map[string]contract.IndexStatus{} // the statuses of the last stop count
				clear(scheduled)
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			if statuses != nil && ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == "ReplicationStatus" {
				scheduled[ev.GetEventId()] = true
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			a := ev.GetActivityTaskCompletedEventAttributes()
			if !scheduled[a.GetScheduledEventId()] || len(a.GetResult().GetPayloads()) == 0 {
				continue
			}
			var st contract.IndexStatus
			if err := converter.GetDefaultDataConverter().FromPayload(a.GetResult().GetPayloads()[0], &st); err != nil {
				return nil, fmt.Errorf("decode a status in the history of %s: %w", id, err)
			}
			statuses[st.Index] = st
		}
	}
	if len(statuses) == 0 {
		return nil, nil
	}
	return workflows.LossOf(statuses, stoppedAt), nil
}

// LossSummary says in words what a promotion lost (PromotionReport.LossSummary), for the CLI
// and the console.
func LossSummary(r workflows.PromotionReport) string { return r.LossSummary() }
